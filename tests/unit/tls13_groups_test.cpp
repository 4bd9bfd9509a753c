// TLS 1.3 optional groups (issue 9 item 10): X448 through the OpenSSL 3 provider (Botan 2
// has none, and a Botan composition configured for it refuses with its own error), and
// the RFC 7919 groups ffdhe2048/ffdhe3072 through both providers. The key shares agree
// across providers (so each pads its public value and secret as RFC 8446 4.2.8.1 and
// 7.4.1 say), bad peer values are refused, and whole handshakes run on each group.
#include <doctest/doctest.h>

#include <future>

#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tapsec.hpp>
#include <tapsec/transport/memory.hpp>

#include "support/pki.hpp"

using namespace tapsec;
using crypto::KeyExchangeGroup;

namespace tls13_groups_test {

template <class A, class B>
void agree_across(KeyExchangeGroup group, std::size_t public_size) {
    auto a = A::KeyShare::generate(group);
    auto b = B::KeyShare::generate(group);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->public_key().size() == public_size);
    CHECK(b->public_key().size() == public_size);
    auto ab = a->agree(b->public_key());
    auto ba = b->agree(a->public_key());
    REQUIRE_MESSAGE(ab.ok(), ab.error().message());
    REQUIRE_MESSAGE(ba.ok(), ba.error().message());
    CHECK(Bytes(ab->begin(), ab->end()) == Bytes(ba->begin(), ba->end()));
    if (crypto::ffdhe_prime_size(group)) CHECK(ab->size() == public_size);  // padded to the prime (7.4.1)
}

/// A Botan share and an OpenSSL share from the same private bytes have the same public value.
void same_public_from_private(KeyExchangeGroup group) {
    SecretBytes x(crypto::private_key_size(group));
    crypto::Botan2::random(x);
    auto botan = crypto::Botan2::KeyShare::from_private(group, x);
    auto openssl = crypto::OpenSsl3::KeyShare::from_private(group, x);
    REQUIRE(botan.ok());
    REQUIRE(openssl.ok());
    CHECK(botan->public_key() == openssl->public_key());
}

template <class P>
void refuses_bad_ffdhe_values(KeyExchangeGroup group) {
    const std::size_t n = crypto::ffdhe_prime_size(group);
    auto share = P::KeyShare::generate(group);
    REQUIRE(share.ok());
    Bytes one(n - 1, 0);
    one.push_back(1);
    Bytes zero(n, 0);
    Bytes all_ones(n, 0xff);  // above p
    Bytes short_value = share->public_key();
    short_value.erase(short_value.begin());  // not padded to the prime's length
    // p - 1 generates the subgroup of order 2 (RFC 7919 5.1 refuses it, as 1 and >= p).
    const Botan::BigInt p = Botan::DL_Group(crypto::Botan2::KeyShare::ffdhe_name(group)).get_p();
    const auto p_minus_1_encoded = Botan::BigInt::encode_1363(p - 1, n);
    const Bytes p_minus_1(p_minus_1_encoded.begin(), p_minus_1_encoded.end());
    const auto p_encoded = Botan::BigInt::encode_1363(p, n);
    const Bytes p_itself(p_encoded.begin(), p_encoded.end());
    for (const Bytes& bad : {one, zero, all_ones, short_value, p_minus_1, p_itself}) CHECK_FALSE(share->agree(bad).ok());
}

template <class Crypto>
using TlsOn = Secure<Tls13Handshake, AeadRecord, MemoryStream, Crypto>;

template <class ClientCrypto, class ServerCrypto>
std::pair<std::error_code, std::error_code> handshake_on(const std::string& group, std::string* negotiated = nullptr) {
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto leaf = pki.issue("groups", test::KeyType::ed25519);
    tls13::Config client, server;
    server.identity = Identity(leaf.certificate_pem(), leaf.key_pem());
    client.trust.ca_certificates_pem = {pki.ca().certificate_pem()};
    client.server_name = "localhost";
    client.groups = {group};
    server.groups = {group};
    auto [a, b] = MemoryStream::pair();
    TlsOn<ClientCrypto> c(Role::client, client, std::move(a));
    TlsOn<ServerCrypto> s(Role::server, server, std::move(b));
    auto server_done = std::async(std::launch::async, [&] { return s.handshake(); });
    auto ce = c.handshake();
    auto se = server_done.get();
    if (!ce && !se) {
        REQUIRE_FALSE(c.send(as_bytes("group " + group)));
        auto got = s.receive_message(std::chrono::seconds(5));
        REQUIRE(got.ok());
        CHECK(std::string(got->begin(), got->end()) == "group " + group);
        if (negotiated) *negotiated = c.info().group;
    }
    return {ce, se};
}


TEST_CASE("key shares: X448 on OpenSSL 3; Botan 2 has none and says so") {
    CHECK(crypto::OpenSsl3::KeyShare::supports(KeyExchangeGroup::x448));
    CHECK_FALSE(crypto::Botan2::KeyShare::supports(KeyExchangeGroup::x448));
    CHECK(crypto::Botan2::KeyShare::generate(KeyExchangeGroup::x448).error() == make_error_code(Errc::unsupported_algorithm));
    agree_across<crypto::OpenSsl3, crypto::OpenSsl3>(KeyExchangeGroup::x448, 56);
    auto share = crypto::OpenSsl3::KeyShare::generate(KeyExchangeGroup::x448);
    REQUIRE(share.ok());
    CHECK_FALSE(share->agree(Bytes(55, 9)).ok());
    CHECK_FALSE(share->agree(Bytes(56, 0)).ok());  // the all-zero output (RFC 7748 6.2) is refused
}

TEST_CASE("key shares: ffdhe2048 and ffdhe3072 agree across Botan 2 and OpenSSL 3, padded") {
    for (auto group : {KeyExchangeGroup::ffdhe2048, KeyExchangeGroup::ffdhe3072}) {
        CAPTURE(static_cast<int>(group));
        const std::size_t n = crypto::ffdhe_prime_size(group);
        agree_across<crypto::Botan2, crypto::Botan2>(group, n);
        agree_across<crypto::Botan2, crypto::OpenSsl3>(group, n);
        agree_across<crypto::OpenSsl3, crypto::Botan2>(group, n);
        same_public_from_private(group);
        refuses_bad_ffdhe_values<crypto::Botan2>(group);
        refuses_bad_ffdhe_values<crypto::OpenSsl3>(group);
    }
}

TEST_CASE("TLS 1.3 handshakes on the optional groups") {
    SUBCASE("X448, OpenSSL 3 at both ends") {
        std::string group;
        std::error_code c, s;  // not a structured binding: clang 14 cannot capture one in CHECK_MESSAGE's lambda
        std::tie(c, s) = handshake_on<crypto::OpenSsl3, crypto::OpenSsl3>("X448", &group);
        CHECK_MESSAGE(!c, c.message());
        CHECK_MESSAGE(!s, s.message());
        CHECK(group == "x448");
    }
    SUBCASE("ffdhe2048 and ffdhe3072: Botan 2 client, OpenSSL 3 server, and Botan 2 at both ends") {
        for (const char* name : {"ffdhe2048", "ffdhe3072"}) {
            CAPTURE(name);
            std::string group;
            std::error_code c, s;
            std::tie(c, s) = handshake_on<crypto::Botan2, crypto::OpenSsl3>(name, &group);
            CHECK_MESSAGE(!c, c.message());
            CHECK_MESSAGE(!s, s.message());
            CHECK(group == name);
            std::error_code c2, s2;
            std::tie(c2, s2) = handshake_on<crypto::Botan2, crypto::Botan2>(name);
            CHECK_MESSAGE(!c2, c2.message());
            CHECK_MESSAGE(!s2, s2.message());
        }
    }
    SUBCASE("X448 on a Botan 2 composition: refused at start with its own error") {
        CHECK_FALSE(tls13::group_available<crypto::Botan2>("X448"));
        CHECK(tls13::group_available<crypto::OpenSsl3>("X448"));
        CHECK(tls13::group_available<crypto::Botan2>("ffdhe3072"));
        tls13::Config config;
        config.groups = {"X448"};
        config.server_name = "localhost";
        for (const Role role : {Role::client, Role::server}) {
            auto [a, b] = MemoryStream::pair();
            TlsOn<crypto::Botan2> end(role, config, std::move(a));
            if (role == Role::server) (void)b.write_all(as_bytes("\x16\x03\x01"));  // a server starts on input
            auto ec = end.handshake();
            CHECK(ec == make_error_code(tls13::Error::group_not_in_provider));
            CHECK(ec.message().find("X448") != std::string::npos);
        }
    }
}

}  // namespace tls13_groups_test
