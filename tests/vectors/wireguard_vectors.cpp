// Known values for WireGuard's building blocks:
//  - the handshake's initial chaining key C0 = HASH(Construction) and hash
//    H0 = HASH(C0 || Identifier), as precomputed in wireguard-rs (INITIAL_CK, INITIAL_HS);
//  - X25519 through the provider: RFC 7748 section 6.1 (Alice/Bob shared secret), and an
//    all-zero output (low-order point) rejected;
//  - TAI64N (cr.yp.to/libtai/tai64.html: label 2^62 + 10 + seconds, big-endian,
//    nanoseconds rounded down to 2^24 as wireguard-go does);
//  - message sizes of the whitepaper (148, 92, 64, 32);
//  - the whole Noise_IKpsk2 handshake from fixed keys: the same bytes on both providers,
//    each message accepted by a peer on the other provider.
// The provider-dependent cases run on both providers (support/providers.hpp).
#include "support/providers.hpp"

#include <tapsec/tapsec.hpp>

using namespace tapsec;
using namespace tapsec::wireguard;

TEST_CASE("WireGuard initial chaining key and hash (wireguard-rs INITIAL_CK / INITIAL_HS)") {
    const Key ck0 = noise::hash(as_bytes(construction));
    CHECK(to_hex(ck0) == "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
    const Key h0 = noise::hash(ck0, as_bytes(identifier));
    CHECK(to_hex(h0) == "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
    // SymmetricState::initial starts from them and mixes in the responder's key.
    Key responder{};
    responder.fill(0x5a);
    auto s = noise::SymmetricState::initial(responder);
    CHECK(to_hex(s.chaining_key) == to_hex(ck0));
    CHECK(to_hex(s.hash) == to_hex(noise::hash(h0, responder)));
}

TEST_CASE_TEMPLATE("X25519 through the provider (RFC 7748 6.1), all-zero output rejected", Crypto, TAPSEC_TEST_PROVIDERS) {
    auto alice = Crypto::KeyShare::from_x25519_private(
        from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
    REQUIRE(alice);
    CHECK(to_hex(alice->public_key()) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    auto shared = noise::dh<Crypto>(*alice, from_hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
    REQUIRE(shared);
    CHECK(to_hex(*shared) == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    // The zero point (and other low-order points) give an all-zero secret: refused.
    auto zero = noise::dh<Crypto>(*alice, Bytes(32, 0));
    CHECK_FALSE(zero);
    CHECK(zero.error() == make_error_code(Error::invalid_public_key));
    auto order_eight = noise::dh<Crypto>(
        *alice, from_hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"));
    CHECK_FALSE(order_eight);
}

TEST_CASE("TAI64N timestamps") {
    using namespace std::chrono;
    CHECK(to_hex(noise::tai64n(system_clock::time_point{})) == "400000000000000a00000000");
    const auto t = system_clock::time_point{seconds(1700000000) + duration_cast<system_clock::duration>(nanoseconds(123456789))};
    CHECK(to_hex(noise::tai64n(t)) == "400000006553f10a07000000");
    // Later times compare greater byte-wise (the responder's replay check).
    const auto later = noise::tai64n(t + seconds(1));
    const auto earlier = noise::tai64n(t);
    CHECK(std::lexicographical_compare(earlier.begin(), earlier.end(), later.begin(), later.end()));
}

TEST_CASE("WireGuard message sizes and field offsets") {
    CHECK(initiation_size == 148);
    CHECK(response_size == 92);
    CHECK(cookie_reply_size == 64);
    CHECK(transport_min_size == 32);
    Initiation i;
    i.sender_index = 0x04030201;
    Bytes wire = serialize(i);
    CHECK(wire.size() == 148);
    CHECK(to_hex(ByteView(wire).first(8)) == "0100000001020304");  // type 1, LE sender index
    Response r;
    r.sender_index = 1;
    r.receiver_index = 2;
    wire = serialize(r);
    CHECK(wire.size() == 92);
    CHECK(to_hex(ByteView(wire).first(12)) == "020000000100000002000000");
    CHECK(Initiation::mac1_offset == 148 - 32);
    CHECK(Response::mac1_offset == 92 - 32);
    Bytes transport(32, 0);
    write_transport_header(transport.data(), TransportHeader{0x11223344, 0x0102030405060708});
    CHECK(to_hex(ByteView(transport).first(16)) == "04000000443322110807060504030201");
}

namespace wireguard_vectors {

SecretArray<32> fixed_key(std::uint8_t fill) {
    SecretArray<32> k;
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(fill + i);
    return k;
}

/// What one side knows of the other: its public key, the PSK and DH(own static, its static).
template <class Crypto>
PeerKeys peer_keys(const StaticIdentity<Crypto>& self, const Key& their_public, const SecretArray<32>& psk) {
    PeerKeys peer;
    peer.public_key = their_public;
    std::copy(psk.begin(), psk.end(), peer.preshared_key.begin());
    auto ss = noise::dh<Crypto>(self.private_key, their_public);
    REQUIRE(ss);
    peer.static_static = *ss;
    peer.static_static_valid = true;
    return peer;
}

struct HandshakeBytes {
    Bytes initiation, response;
    Bytes initiator_send, initiator_receive, responder_send, responder_receive;
};

/// One handshake from fixed static keys, ephemerals, indices, timestamp and PSK: the
/// initiator on provider I, the responder on provider R.
template <class I, class R>
HandshakeBytes fixed_handshake() {
    const auto initiator_private = fixed_key(0x10), responder_private = fixed_key(0x40);
    const auto initiator_ephemeral = fixed_key(0x70), responder_ephemeral = fixed_key(0xa0), psk = fixed_key(0xd0);
    auto initiator = StaticIdentity<I>::from_private(initiator_private);
    auto responder = StaticIdentity<R>::from_private(responder_private);
    REQUIRE(initiator);
    REQUIRE(responder);
    const PeerKeys to_responder = peer_keys(*initiator, responder->public_key, psk);
    const PeerKeys to_initiator = peer_keys(*responder, initiator->public_key, psk);
    const Timestamp timestamp = noise::tai64n(std::chrono::system_clock::time_point{std::chrono::seconds(1700000000)});

    HandshakeState<I> initiator_state;
    auto initiation = create_initiation(*initiator, to_responder, 0x11111111, timestamp, initiator_ephemeral, initiator_state);
    REQUIRE(initiation);
    HandshakeState<R> responder_state;
    auto consumed = consume_initiation(
        *responder, *initiation,
        [&](const Key& k) -> std::optional<std::pair<std::size_t, const PeerKeys*>> {
            if (k != initiator->public_key) return std::nullopt;
            return std::pair<std::size_t, const PeerKeys*>{0, &to_initiator};
        },
        responder_state);
    REQUIRE(consumed);
    CHECK(consumed->timestamp == timestamp);
    TransportKeys responder_keys, initiator_keys;
    auto response = create_response(to_initiator, 0x22222222, responder_ephemeral, responder_state, responder_keys);
    REQUIRE(response);
    REQUIRE(consume_response(*initiator, to_responder, *response, initiator_state, initiator_keys) == std::error_code{});
    // The two ends hold mirrored transport keys.
    CHECK(to_hex(initiator_keys.send) == to_hex(responder_keys.receive));
    CHECK(to_hex(initiator_keys.receive) == to_hex(responder_keys.send));
    return {serialize(*initiation),           serialize(*response),
            Bytes(initiator_keys.send.begin(), initiator_keys.send.end()),
            Bytes(initiator_keys.receive.begin(), initiator_keys.receive.end()),
            Bytes(responder_keys.send.begin(), responder_keys.send.end()),
            Bytes(responder_keys.receive.begin(), responder_keys.receive.end())};
}


TEST_CASE_TEMPLATE("Noise_IKpsk2 from fixed inputs: same bytes on both providers, accepted across them", Crypto,
                   TAPSEC_TEST_PROVIDERS) {
    // The reference: both ends on Botan. Then Crypto initiates to Botan and OpenSSL answers Crypto.
    const HandshakeBytes reference = fixed_handshake<crypto::Botan2, crypto::Botan2>();
    const HandshakeBytes to_botan = fixed_handshake<Crypto, crypto::Botan2>();
    const HandshakeBytes from_openssl = fixed_handshake<Crypto, crypto::OpenSsl3>();
    for (const HandshakeBytes* run : {&to_botan, &from_openssl}) {
        CHECK(to_hex(run->initiation) == to_hex(reference.initiation));
        CHECK(to_hex(run->response) == to_hex(reference.response));
        CHECK(to_hex(run->initiator_send) == to_hex(reference.initiator_send));
        CHECK(to_hex(run->responder_send) == to_hex(reference.responder_send));
    }
    CHECK(reference.initiation.size() == initiation_size);
    CHECK(reference.response.size() == response_size);
}

}  // namespace wireguard_vectors
