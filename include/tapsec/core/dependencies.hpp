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
#include "config.hpp"
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

/// True when a record policy declares `carries` containing D: a dependency it provides
/// to the handshake it carries itself (a record that moves the handshake's bytes
/// reliably and in order over a datagram transport carries a reliable byte stream).
template <class Record, class D>
constexpr bool carries() {
    if constexpr (requires { typename Record::carries; })
        return decltype(hana::contains(typename Record::carries{}, hana::type_c<D>))::value;
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

/// What every handshake policy declares about itself: a name, the features it
/// provides (a Hana set), and its configuration (CommonConfig plus its own knobs).
template <class H>
concept HandshakeDescription = requires {
    { H::name } -> std::convertible_to<std::string_view>;
    typename H::provides;
    typename H::Config;
} && std::derived_from<typename H::Config, CommonConfig>;

/// The handshake's side of the key interface (6.3): which kind of keys it exports, and how.
template <class H>
concept HandshakeKeyInterface = requires {
    typename H::exported_keys;
    { H::key_export } -> std::convertible_to<KeyExport>;
};

template <class H>
concept HandshakePolicy = HandshakeDescription<H> && HandshakeKeyInterface<H>;

template <class R>
concept RecordDescription = requires {
    { R::name } -> std::convertible_to<std::string_view>;
    typename R::provides;
};

/// The record's side of the key interface (6.1): which kind of keys it imports, and how.
template <class R>
concept RecordKeyInterface = requires {
    typename R::imported_keys;
    { R::key_import } -> std::convertible_to<KeyImport>;
};

template <class R>
concept RecordPolicy = RecordDescription<R> && RecordKeyInterface<R>;

/// Whether a policy runs on crypto provider C. A policy that uses the provider seam
/// runs on any provider and declares nothing; one bound to a particular library's stack
/// (Botan's TLS 1.2) says so with `template <class C> static constexpr bool runs_on`.
template <class Policy, class C>
constexpr bool runs_on() {
    if constexpr (requires { { Policy::template runs_on<C> } -> std::convertible_to<bool>; })
        return Policy::template runs_on<C>;
    else
        return true;
}

}  // namespace tapsec

// The composition rules built on these declarations, so that every policy header that
// includes this one can check a handshake/record pair (KeysFlowFromHandshakeToRecord).
// Included last: composition.hpp includes this file, and finds it complete either way.
#include "composition.hpp"
