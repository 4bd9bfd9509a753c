// TAPS-style selection (include/tapsec/taps/selection.hpp): a required property that no
// candidate offers is one compile error naming it. Neither QUIC nor TLS 1.3 over TCP
// gives the application datagrams; the sibling asks for a stream, which both give.
// expect: tapsec: selection: no candidate composition offers the required property datagrams
#include <tapsec/tapsec.hpp>
#include <tapsec/taps/selection.hpp>

using namespace tapsec;

#ifdef TAPSEC_EXPECT_REJECTION
using Service = taps::datagrams;
#else
using Service = taps::reliable_stream;
#endif
using Choice = taps::Selection<
    taps::properties<taps::require<feature::MA>, taps::require<Service>, taps::prefer<feature::out_of_order_receipt>>,
    taps::candidates<taps::candidate<"tls13", Secure<Tls13Handshake, AeadRecord, Tcp>>,
                     taps::candidate<"quic", Secure<Tls13Handshake, QuicPacketProtection, Udp>>>>;
[[maybe_unused]] constexpr std::size_t admitted = Choice::admitted;  // instantiates the selection
#ifndef TAPSEC_EXPECT_REJECTION
static_assert(admitted == 2);
#endif
