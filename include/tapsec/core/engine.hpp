// The sans-I/O contract between Secure<> and a protocol.
//
// An engine is the handshake and record of one composition joined together (for
// example a TLS 1.3 handshake feeding traffic secrets to an AEAD record layer). It
// consumes bytes (stream transports) or whole datagrams, returns what to put on the
// wire, and never touches a socket or a clock: time is passed in. The same engine runs
// over Tcp, in-memory pairs, a fuzzer or an event loop.
#pragma once

#include <chrono>
#include <concepts>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "bytes.hpp"
#include "config.hpp"
#include "endpoint.hpp"

namespace tapsec {

using Clock = std::chrono::steady_clock;
using Instant = Clock::time_point;

/// One unit for the wire: bytes for a stream, one datagram for a datagram transport.
/// `to` is set when the engine addresses a specific endpoint (roaming, several peers).
struct Transmit {
    Bytes data;
    std::optional<Endpoint> to;
};

/// What `poll_transmit(MutableByteView out)` wrote into the caller's buffer: `size`
/// bytes at the front of `out` (one datagram, or a run of stream bytes), and where to.
/// The caller-buffer form is the allocation-free contract (quinn-proto's
/// poll_transmit): the caller owns and reuses `out`; an engine that offers it never
/// allocates per record on its data path once warmed up. `out` must hold at least
/// `max_transmit_size` bytes.
struct TransmitInfo {
    std::size_t size = 0;
    std::optional<Endpoint> to;
};
inline constexpr std::size_t max_transmit_size = 65536 + 2048;

/// Things the application may want to know (Section 6.3 events among them).
enum class EventKind {
    handshake_complete,
    early_data_accepted,
    early_data_rejected,
    key_updated,          // keys changed (either direction)
    key_expiring,         // record layer reached a usage/time limit (6.3 key expiration)
    session_ticket,       // a resumable session was stored
    peer_closed,          // authenticated close from the peer
    peer_address_changed, // connection mobility (roaming)
    dropped_packet,       // a datagram was discarded (detail says why)
};

/// An event carries an enum and, where there is one, the error code that explains it
/// (a dropped packet's reason, for instance): no strings are built on a packet path.
/// `reason.message()` formats it when, and only if, the application asks.
struct Event {
    EventKind kind;
    std::string detail;          // being retired (Core v2): engines move to `reason`
    std::error_code reason{};
};

/// What was negotiated, for the application and for `tapsec demo`.
struct SessionInfo {
    std::string protocol;      // "TLS 1.3", "WireGuard", ...
    std::string cipher_suite;
    std::string group;
    std::string alpn;
    std::string server_name;
    PeerIdentity peer;
    bool resumed = false;
    bool early_data_accepted = false;
};

template <class E>
concept SansIoEngine = requires(E e, const E ce, ByteView in, const Endpoint& from, Instant now) {
    { e.start(now) } -> std::same_as<std::error_code>;              // initiator: queue the first flight
    { e.receive(in, from, now) } -> std::same_as<std::error_code>;  // bytes or one datagram from the wire
    { e.poll_transmit() } -> std::same_as<std::optional<Transmit>>;
    { e.poll_application_data() } -> std::same_as<std::optional<Bytes>>;
    { e.poll_event() } -> std::same_as<std::optional<Event>>;
    { e.send(in, now) } -> std::same_as<std::error_code>;           // protect application data
    { e.next_timeout() } -> std::same_as<std::optional<Instant>>;
    { e.on_timeout(now) } -> std::same_as<std::error_code>;
    { e.close(now) } -> std::same_as<std::error_code>;              // queue an authenticated close
    { ce.is_established() } -> std::same_as<bool>;
    { ce.is_closed() } -> std::same_as<bool>;
    { ce.session_info() } -> std::convertible_to<SessionInfo>;
};

/// The allocation-free form of the contract: outgoing bytes into a buffer the caller
/// owns (see TransmitInfo). Secure<> uses it whenever an engine offers it.
template <class E>
concept CallerBufferEngine = SansIoEngine<E> && requires(E e, MutableByteView out) {
    { e.poll_transmit(out) } -> std::same_as<std::optional<TransmitInfo>>;
};

/// Received plaintext handed out as a view into the engine's own buffer, valid until
/// the next call on the engine (no copy, no allocation). Secure<> uses it when offered.
template <class E>
concept ViewReceiveEngine = SansIoEngine<E> && requires(E e) {
    { e.poll_plaintext() } -> std::same_as<std::optional<ByteView>>;
};

}  // namespace tapsec
