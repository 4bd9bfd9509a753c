// TAPS-style selection: the requirement is offered by some candidate, but no one
// candidate meets it and the prohibition together (out-of-order receipt: only QUIC;
// connection mobility, prohibited: QUIC has it, TLS 1.3 over TCP does not).
// expect: tapsec: selection: no single candidate composition meets all the required and prohibited properties together
#include <tapsec/tapsec.hpp>
#include <tapsec/taps/selection.hpp>

using namespace tapsec;

#ifdef TAPSEC_EXPECT_REJECTION
using Second = taps::prohibit<feature::CM>;
#else
using Second = taps::avoid<feature::CM>;
#endif
using Choice = taps::Selection<
    taps::properties<taps::require<feature::out_of_order_receipt>, Second>,
    taps::candidates<taps::candidate<"tls13", Secure<Tls13Handshake, AeadRecord, Tcp>>,
                     taps::candidate<"quic", Secure<Tls13Handshake, QuicPacketProtection, Udp>>>>;
[[maybe_unused]] constexpr std::size_t admitted = Choice::admitted;  // instantiates the selection
#ifndef TAPSEC_EXPECT_REJECTION
static_assert(admitted == 1);
#endif
