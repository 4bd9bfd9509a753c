// Compile-time fixtures for the composition rules that no implemented protocol
// exercises yet (tcpcrypt's TCP-ENO dependency, CurveCP's non-exportable keys, a
// crypto provider without X.509). They only declare policy metadata and an engine
// signature; nothing here runs, and no protocol claims them.
#pragma once

#include <tapsec/core/secure.hpp>
#include <tapsec/crypto/botan.hpp>
#include <tapsec/transport/tcp.hpp>

#include "../support/declared_engine.hpp"

namespace fixture {

using namespace tapsec;

using DeclaredOnlyEngine = tapsec::test::DeclaredOnlyEngine;

struct EnoKeys {};
/// Declares tcpcrypt's dependency (survey 4.6.3): TCP with option negotiation.
struct EnoHandshake {
    static constexpr std::string_view name = "fixture TCP-ENO handshake";
    using provides = features<feature::forward_secrecy>;
    using needs = dependencies<dependency::reliable_byte_stream, dependency::tcp_option_negotiation>;
    static constexpr KeyExport key_export = KeyExport::direct;
    using exported_keys = EnoKeys;
    using Config = CommonConfig;
    template <class R, class C>
    using engine = DeclaredOnlyEngine;
};
struct EnoRecord {
    static constexpr std::string_view name = "fixture TCP-ENO record";
    using provides = features<feature::record_protection>;
    static constexpr KeyImport key_import = KeyImport::direct;
    using imported_keys = EnoKeys;
};
/// A TCP transport that offers option negotiation (as a TCP-ENO stack would).
struct TcpWithEno : Tcp {
    using offers = dependencies<dependency::reliable_byte_stream, dependency::tcp_option_negotiation>;
};

struct BoxKeys {};
/// CurveCP-style: keys never leave the protocol (survey 6.3 non-exportable).
struct SealedHandshake {
    static constexpr std::string_view name = "fixture non-exportable handshake";
    using provides = features<feature::forward_secrecy>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyExport key_export = KeyExport::non_exportable;
    using exported_keys = BoxKeys;
    using Config = CommonConfig;
    template <class R, class C>
    using engine = DeclaredOnlyEngine;
};
struct SealedRecord {
    static constexpr std::string_view name = "fixture non-importable record";
    using provides = features<feature::record_protection>;
    static constexpr KeyImport key_import = KeyImport::non_importable;
    using imported_keys = BoxKeys;
};
/// A record that takes this kind of key from anyone who exports it explicitly.
struct OpenRecord {
    static constexpr std::string_view name = "fixture explicit-import record";
    using provides = features<feature::record_protection>;
    static constexpr KeyImport key_import = KeyImport::explicit_import;
    using imported_keys = BoxKeys;
};

/// A record that declares what it is but no key interface (no imported_keys / key_import).
struct KeylessRecord {
    static constexpr std::string_view name = "fixture record without a key interface";
    using provides = features<feature::record_protection>;
};
/// A handshake that declares no key interface (no exported_keys / key_export).
struct KeylessHandshake {
    static constexpr std::string_view name = "fixture handshake without a key interface";
    using provides = features<feature::forward_secrecy>;
    using needs = dependencies<dependency::reliable_byte_stream>;
    using Config = CommonConfig;
    template <class R, class C>
    using engine = DeclaredOnlyEngine;
};
/// A handshake with everything but an engine.
struct HandshakeWithoutEngine {
    static constexpr std::string_view name = "fixture handshake without an engine";
    using provides = features<feature::forward_secrecy>;
    static constexpr KeyExport key_export = KeyExport::direct;
    using exported_keys = EnoKeys;
    using Config = CommonConfig;
};
/// A stream handshake without TCP-ENO, and a record that needs TCP-ENO on its own.
struct StreamHandshake {
    static constexpr std::string_view name = "fixture stream handshake";
    using provides = features<feature::forward_secrecy>;
    using needs = dependencies<dependency::reliable_byte_stream>;
    static constexpr KeyExport key_export = KeyExport::direct;
    using exported_keys = EnoKeys;
    using Config = CommonConfig;
    template <class R, class C>
    using engine = DeclaredOnlyEngine;
};
struct EnoOnlyRecord {
    static constexpr std::string_view name = "fixture record needing TCP-ENO";
    using provides = features<feature::record_protection>;
    using needs = dependencies<dependency::reliable_byte_stream, dependency::tcp_option_negotiation>;
    static constexpr KeyImport key_import = KeyImport::direct;
    using imported_keys = EnoKeys;
};
/// A record bound to one library's stack, as Botan's TLS 1.2 record is.
struct BotanBoundRecord {
    static constexpr std::string_view name = "fixture Botan-bound record";
    using provides = features<feature::record_protection>;
    static constexpr KeyImport key_import = KeyImport::direct;
    using imported_keys = EnoKeys;
    template <class C>
    static constexpr bool runs_on = std::is_same_v<C, crypto::Botan2>;
};

/// A certificate-based handshake (needs the PKI trust store dependency).
struct PkiHandshake {
    static constexpr std::string_view name = "fixture certificate handshake";
    using provides = features<feature::public_key_authentication>;
    using needs = dependencies<dependency::reliable_byte_stream, dependency::pki_trust_store>;
    static constexpr KeyExport key_export = KeyExport::direct;
    using exported_keys = EnoKeys;
    using Config = CommonConfig;
    template <class R, class C>
    using engine = DeclaredOnlyEngine;
};

/// Botan's primitives without its X.509: what a minimal provider might offer.
struct PrimitivesOnlyProvider {
    static constexpr std::string_view name = "primitives only";
    using Aead = crypto::Botan2::Aead;
    using Hash = crypto::Botan2::Hash;
    using KeyShare = crypto::Botan2::KeyShare;
    using BlockCipher = crypto::Botan2::BlockCipher;
    static void random(MutableByteView out) { crypto::Botan2::random(out); }
    static Bytes hash(crypto::HashAlgorithm a, ByteView d) { return crypto::Botan2::hash(a, d); }
    static SecretBytes hmac(crypto::HashAlgorithm a, ByteView k, ByteView d) { return crypto::Botan2::hmac(a, k, d); }
    static SecretBytes hkdf_extract(crypto::HashAlgorithm a, ByteView s, ByteView i) { return crypto::Botan2::hkdf_extract(a, s, i); }
    static SecretBytes hkdf_expand(crypto::HashAlgorithm a, ByteView p, ByteView i, std::size_t n) {
        return crypto::Botan2::hkdf_expand(a, p, i, n);
    }
};
static_assert(crypto::CryptoProvider<PrimitivesOnlyProvider> && !crypto::PkiProvider<PrimitivesOnlyProvider>);

}  // namespace fixture
