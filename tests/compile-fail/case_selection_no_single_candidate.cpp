// TAPS-style selection: each requirement is offered by some candidate, but no one
// candidate offers both (length-hiding padding: TLS 1.3 over TCP; out-of-order receipt: QUIC).
// expect: tapsec: selection: no single candidate composition meets all the required and prohibited properties together
#include <tapsec/tapsec.hpp>
#include <tapsec/taps/selection.hpp>

using namespace tapsec;

#ifdef TAPSEC_EXPECT_REJECTION
using Second = taps::require<feature::LHP>;
#else
using Second = taps::prefer<feature::LHP>;
#endif
using Choice = taps::Selection<
    taps::properties<taps::require<feature::out_of_order_receipt>, Second>,
    taps::candidates<taps::candidate<"tls13", Secure<Tls13Handshake, AeadRecord, Tcp>>,
                     taps::candidate<"quic", Secure<Tls13Handshake, QuicPacketProtection, Udp>>>>;
[[maybe_unused]] constexpr std::size_t admitted = Choice::admitted;  // instantiates the selection
#ifndef TAPSEC_EXPECT_REJECTION
static_assert(admitted == 1);
#endif
