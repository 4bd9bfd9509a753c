// Transport dependencies (survey Sections 4.x.3) and the key import/export
// interfaces (Section 6.1 "Pre-Shared Key Import", 6.3 "Pre-Shared Key Export")
// as compile-time properties and C++20 concepts.
#pragma once

#include <concepts>
#include <cstddef>
#include <string_view>
#include <system_error>
#include <type_traits>

#include <boost/hana/contains.hpp>
#include <boost/hana/set.hpp>
#include <boost/hana/type.hpp>

#include "bytes.hpp"
#include "endpoint.hpp"
#include "engine.hpp"
#include "errors.hpp"
#include "features.hpp"

namespace tapsec {

/// What a protocol needs underneath it (4.x.3), and what a transport offers.
namespace dependency {
struct reliable_byte_stream { static constexpr std::string_view text = "a reliable, in-order byte stream"; };
struct datagram { static constexpr std::string_view text = "an unreliable datagram service"; };
struct tcp_option_negotiation { static constexpr std::string_view text = "TCP option negotiation (TCP-ENO)"; };
struct external_key_management { static constexpr std::string_view text = "keys supplied by a separate handshake"; };
struct pki_trust_store { static constexpr std::string_view text = "X.509 path validation against a trust store"; };
}  // namespace dependency

template <class... Ds>
using dependencies = decltype(hana::make_set(hana::type_c<Ds>...));

/// True when Policy declares `needs` containing D.
template <class Policy, class D>
constexpr bool needs() {
    if constexpr (requires { typename Policy::needs; })
        return decltype(hana::contains(typename Policy::needs{}, hana::type_c<D>))::value;
    else
        return false;
}

/// True when Transport declares `offers` containing D.
template <class Transport, class D>
constexpr bool offers() {
    if constexpr (requires { typename Transport::offers; })
        return decltype(hana::contains(typename Transport::offers{}, hana::type_c<D>))::value;
    else
        return false;
}

// ---- transports ------------------------------------------------------------------

/// A stream transport: read_some returns 0 at an orderly end of stream.
template <class T>
concept ByteStreamTransport = std::movable<T> && requires(T t, MutableByteView in, ByteView out, Instant deadline) {
    { t.read_some(in, deadline) } -> std::same_as<Result<std::size_t>>;
    { t.write_all(out) } -> std::same_as<std::error_code>;
    { t.close() };
    { t.peer_endpoint() } -> std::convertible_to<Endpoint>;
};

template <class T>
concept ReliableByteStream = ByteStreamTransport<T> && offers<T, dependency::reliable_byte_stream>();

template <class T>
concept DatagramTransport = std::movable<T> && offers<T, dependency::datagram>() &&
    requires(T t, MutableByteView in, ByteView out, Instant deadline, Endpoint& from, const Endpoint& to) {
        { t.receive_from(in, deadline, from) } -> std::same_as<Result<std::size_t>>;
        { t.send_to(out, to) } -> std::same_as<std::error_code>;
        { t.close() };
        { t.peer_endpoint() } -> std::convertible_to<Endpoint>;
    };

template <class T>
concept TcpWithOptionNegotiation = ReliableByteStream<T> && offers<T, dependency::tcp_option_negotiation>();

template <class T>
concept Transport = ReliableByteStream<T> || DatagramTransport<T>;

// ---- keys between handshake and record --------------------------------------------

/// 6.3: how a handshake's keys may leave it.
enum class KeyExport {
    explicit_export,  // to the application or another protocol's record (TLS for QUIC, DTLS for SRTP, IKEv2 for ESP)
    direct,           // only to its own record protocol
    non_exportable,   // keys exist only inside the protocol (CurveCP)
};
/// 6.1: how a record protocol may be keyed.
enum class KeyImport {
    explicit_import,  // by the application or any handshake exporting this kind of key (QUIC, ESP, SRTP)
    direct,           // by its own handshake (TLS, DTLS, WireGuard)
    non_importable,   // only inside the protocol (CurveCP)
};

/// Key material "kinds": a handshake exports one, a record imports one; they must match.
/// Each protocol folder defines its tag (e.g. tls13::TrafficSecrets, srtp::MasterKeys).

// ---- policies ----------------------------------------------------------------------

template <class H>
concept HandshakePolicy = requires {
    { H::name } -> std::convertible_to<std::string_view>;
    typename H::provides;
    typename H::exported_keys;
    { H::key_export } -> std::convertible_to<KeyExport>;
    typename H::Config;
};

template <class R>
concept RecordPolicy = requires {
    { R::name } -> std::convertible_to<std::string_view>;
    typename R::provides;
    typename R::imported_keys;
    { R::key_import } -> std::convertible_to<KeyImport>;
};

/// Keys can flow from H to R when both speak of the same kind of key and the 6.1/6.3
/// interfaces allow it: a record of the handshake's own protocol takes keys directly;
/// a record of another protocol only by explicit export into explicit import.
template <class H, class R>
constexpr bool keys_flow() {
    if constexpr (!std::is_same_v<typename H::exported_keys, typename R::imported_keys>) return false;
    else if constexpr (H::key_export == KeyExport::non_exportable || R::key_import == KeyImport::non_importable)
        return H::key_export == KeyExport::non_exportable && R::key_import == KeyImport::non_importable;
    else if constexpr (R::key_import == KeyImport::explicit_import)
        return H::key_export == KeyExport::explicit_export;
    else
        return true;
}

template <class H, class R>
concept KeysFlowFromHandshakeToRecord = HandshakePolicy<H> && RecordPolicy<R> && keys_flow<H, R>();

template <class Policy, class T>
concept TransportMeets =
    (!needs<Policy, dependency::reliable_byte_stream>() || ReliableByteStream<T>) &&
    (!needs<Policy, dependency::datagram>() || DatagramTransport<T>) &&
    (!needs<Policy, dependency::tcp_option_negotiation>() || TcpWithOptionNegotiation<T>);

}  // namespace tapsec
