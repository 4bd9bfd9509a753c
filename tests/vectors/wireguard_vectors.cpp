// Known values for WireGuard's building blocks:
//  - the handshake's initial chaining key C0 = HASH(Construction) and hash
//    H0 = HASH(C0 || Identifier), as precomputed in wireguard-rs (INITIAL_CK, INITIAL_HS);
//  - X25519 through the provider: RFC 7748 section 6.1 (Alice/Bob shared secret), and an
//    all-zero output (low-order point) rejected;
//  - TAI64N (cr.yp.to/libtai/tai64.html: label 2^62 + 10 + seconds, big-endian,
//    nanoseconds rounded down to 2^24 as wireguard-go does);
//  - message sizes of the whitepaper (148, 92, 64, 32).
#include <doctest/doctest.h>

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

TEST_CASE("X25519 through the provider (RFC 7748 6.1), all-zero output rejected") {
    auto alice = crypto::Botan2::KeyShare::from_x25519_private(
        from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
    REQUIRE(alice);
    CHECK(to_hex(alice->public_key()) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    auto shared = noise::dh<crypto::Botan2>(*alice, from_hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
    REQUIRE(shared);
    CHECK(to_hex(*shared) == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    // The zero point (and other low-order points) give an all-zero secret: refused.
    auto zero = noise::dh<crypto::Botan2>(*alice, Bytes(32, 0));
    CHECK_FALSE(zero);
    CHECK(zero.error() == make_error_code(Error::invalid_public_key));
    auto order_eight = noise::dh<crypto::Botan2>(
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
