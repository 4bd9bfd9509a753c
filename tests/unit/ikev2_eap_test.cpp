// EAP in IKE_AUTH (RFC 7296 2.16, RFC 3748): an initiator authenticating with EAP-MD5 to
// a responder that signs with its certificate, in memory; the AUTH after EAP keyed by
// SK_pi/SK_pr (EAP-MD5 has no MSK) and by an MSK (a test method that makes one); and the
// refusals: wrong secret, unknown user, an initiator that skips EAP, a method the peer
// does not run (Nak), MSKs that differ, and the EAP layer's parsing (truncated, oversized,
// unexpected codes and identifiers). EAP-MD5 hashes through the crypto provider: RFC 1321's
// test suite on each, each refusing MD5 for HMAC/HKDF, and a peer on one provider against
// a server on the other.
#include "support/providers.hpp"

#include <functional>
#include <stdexcept>

#include <tapsec/ikev2.hpp>
#include <tapsec/ikev2/eap.hpp>
#include <tapsec/ikev2/eap_md5.hpp>

#include "support/ikev2_certs.hpp"
#include "support/ikev2_ip.hpp"
#include "support/ikev2_pair.hpp"

using namespace tapsec;
using namespace tapsec::ikev2;
using namespace std::chrono_literals;
using test::KeyType;
using IkeEngine = Engine<crypto::Botan2>;

namespace ikev2_eap_test {

SecretBytes secret(std::string_view s) { return SecretBytes(s.begin(), s.end()); }

std::string hex(ByteView b) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (auto x : b) out += {digits[x >> 4], digits[x & 15]};
    return out;
}

/// A test method (experimental type 254) that makes an MSK: the server sends a nonce,
/// the peer answers it, both derive the MSK from the nonce and their own key.
struct MskMethod {
    static constexpr std::uint8_t kind = 254;
    static SecretBytes msk_of(ByteView nonce, std::string_view key) {
        SecretBytes m(64, 0);
        for (std::size_t i = 0; i < m.size(); ++i)
            m[i] = static_cast<std::uint8_t>(nonce[i % nonce.size()] ^ key[i % key.size()] ^ i);
        return m;
    }
    struct Peer final : eap::PeerMethod {
        std::string key;
        SecretBytes made;
        explicit Peer(std::string k) : key(std::move(k)) {}
        std::uint8_t type() const override { return kind; }
        std::string identity() const override { return "a@test"; }
        Result<Bytes> respond(std::uint8_t, ByteView nonce) override {
            if (nonce.empty()) return make_error_code(Error::eap_malformed);
            made = msk_of(nonce, key);
            return Bytes(nonce.begin(), nonce.end());
        }
        std::optional<SecretBytes> msk() const override { return made; }
    };
    struct Server final : eap::ServerMethod {
        std::string key;
        Bytes nonce = Bytes(16);
        explicit Server(std::string k) : key(std::move(k)) {}
        std::uint8_t type() const override { return kind; }
        Result<Bytes> start(const std::string&, std::uint8_t, const eap::Random& random) override {
            random(nonce);
            return nonce;
        }
        Verdict process(std::uint8_t, ByteView answer, const eap::Random&) override {
            Verdict v;
            if (Bytes(answer.begin(), answer.end()) == nonce) v.outcome = Verdict::Outcome::success;
            return v;
        }
        std::optional<SecretBytes> msk() const override { return msk_of(nonce, key); }
    };
};

template <class PeerCrypto = crypto::Botan2, class ServerCrypto = PeerCrypto>
struct EapPair : ikev2_test::EnginePair<PeerCrypto, ServerCrypto> {
    using Base = ikev2_test::EnginePair<PeerCrypto, ServerCrypto>;
    ikev2_test::IkePki pki;
    test::CertificateFiles responder_files = pki.responder(KeyType::ecdsa_p256);
    Config ic, rc;

    /// The initiator runs EAP-MD5 as "a@test" with `password`; the responder knows the
    /// users in `users` and signs as b.test.
    EapPair(std::string password, std::map<std::string, SecretBytes> users = {{"a@test", secret("correct horse")}}) {
        ic.local_id = *Identification::parse("a@test");
        ic.remote_id = *Identification::parse("b.test");
        ic.trust.ca_certificates_pem.push_back(pki.ca_pem());
        ic.eap_peer = [password] { return std::make_unique<eap::Md5Peer<PeerCrypto>>("a@test", secret(password)); };
        rc.identity = Identity(responder_files.certificate_pem(), responder_files.key_pem());
        rc.local_id = *Identification::parse("b.test");
        auto table = std::make_shared<const eap::Md5Users>(std::move(users));
        rc.eap_server = [table] { return std::make_unique<eap::Md5Server<ServerCrypto>>(table); };
    }
    void make() { Base::make(ikev2_test::with_selectors(ic, Role::client), ikev2_test::with_selectors(rc, Role::server)); }
    bool connect() {
        if (!this->i) make();
        return Base::connect();
    }
};


TEST_CASE_TEMPLATE("ikev2 eap: MD5 through the provider (RFC 1321 test suite), only for EAP-MD5's response value", P,
                   TAPSEC_TEST_PROVIDERS) {
    // RFC 1321 A.5, the whole test suite.
    struct Case {
        const char* message;
        const char* digest;
    };
    for (const Case& c : {Case{"", "d41d8cd98f00b204e9800998ecf8427e"}, Case{"a", "0cc175b9c0f1b6a831c399e269772661"},
                          Case{"abc", "900150983cd24fb0d6963f7d28e17f72"},
                          Case{"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
                          Case{"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
                          Case{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                               "d174ab98d277d9f5a5611c2c9f419d9f"},
                          Case{"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                               "57edf4a22be3c955ac49da2e2107b67a"}}) {
        CAPTURE(c.message);
        CHECK(hex(P::hash(crypto::HashAlgorithm::md5, as_bytes(c.message))) == c.digest);
        typename P::Hash incremental(crypto::HashAlgorithm::md5);
        const std::string_view m = c.message;
        incremental.update(as_bytes(m.substr(0, m.size() / 2)));
        incremental.update(as_bytes(m.substr(m.size() / 2)));
        CHECK(hex(incremental.final()) == c.digest);
    }
    CHECK(crypto::digest_size(crypto::HashAlgorithm::md5) == 16);
    // RFC 1994: MD5(identifier | secret | challenge)
    const Bytes challenge{1, 2, 3};
    Bytes input{7};
    append(input, as_bytes("pw"));
    append(input, challenge);
    const auto value = eap::detail::md5_challenge_value<P>(7, as_bytes("pw"), challenge);
    CHECK(Bytes(value.begin(), value.end()) == P::hash(crypto::HashAlgorithm::md5, input));
    // Never keyed: no HMAC, HKDF or PRF over MD5 on either provider.
    CHECK_FALSE(crypto::keyed_use_allowed(crypto::HashAlgorithm::md5));
    CHECK(P::Hmac::create(crypto::HashAlgorithm::md5, as_bytes("key")).error() == Errc::unsupported_algorithm);
    CHECK_THROWS_AS(P::hmac(crypto::HashAlgorithm::md5, as_bytes("key"), as_bytes("data")), std::invalid_argument);
    CHECK_THROWS_AS(P::hkdf_extract(crypto::HashAlgorithm::md5, as_bytes("salt"), as_bytes("ikm")), std::invalid_argument);
    CHECK_THROWS_AS(P::hkdf_expand(crypto::HashAlgorithm::md5, as_bytes("prk of some length"), {}, 16),
                    std::invalid_argument);
}

TEST_CASE_TEMPLATE("ikev2 eap: EAP-MD5 peer on this provider, server on the other, both ways", P, TAPSEC_TEST_PROVIDERS) {
    using Other = std::conditional_t<std::is_same_v<P, crypto::Botan2>, crypto::OpenSsl3, crypto::Botan2>;
    EapPair<P, Other> forward("correct horse");
    REQUIRE(forward.connect());
    CHECK(forward.r->session_info().peer.psk_identity == "a@test");
    forward.ping_pong();
    EapPair<Other, P> backward("correct horse");
    REQUIRE(backward.connect());
    backward.ping_pong();
    EapPair<P, Other> wrong("wrong horse");
    CHECK_FALSE(wrong.connect());
    CHECK(wrong.r->failure() == Error::eap_failed);
}

TEST_CASE("ikev2 eap: EAP-MD5 initiator against a signing responder, keyed by SK_pi/SK_pr, traffic both ways") {
    EapPair<> p("correct horse");
    REQUIRE(p.connect());
    // IKE_AUTH without AUTH, the EAP response, the AUTH after EAP-Success.
    CHECK(p.ike_auth_requests() == 3);
    CHECK(p.r->session_info().peer.psk_identity == "a@test");
    CHECK(p.r->session_info().peer.authenticated);
    CHECK(p.i->session_info().peer.authenticated);
    p.ping_pong();
    REQUIRE(!p.i->close(p.now));
    p.pump();
    CHECK(p.i->is_closed());
    CHECK(p.r->is_closed());
}

TEST_CASE("ikev2 eap: a method with an MSK keys both final AUTHs with it; differing MSKs fail") {
    for (bool same : {true, false}) {
        CAPTURE(same);
        EapPair<> p("unused");
        p.ic.eap_peer = [] { return std::make_unique<MskMethod::Peer>("key one"); };
        p.rc.eap_server = [same] { return std::make_unique<MskMethod::Server>(same ? "key one" : "key two"); };
        const bool up = p.connect();
        CHECK(up == same);
        if (!same) {
            CHECK(p.r->failure() == Error::authentication_failed);
            CHECK(p.i->failure() == Error::authentication_failed);
        }
    }
}

TEST_CASE("ikev2 eap: refusals, each a named code on both sides") {
    SUBCASE("wrong EAP secret: EAP-Failure") {
        EapPair<> p("wrong horse");
        CHECK(!p.connect());
        CHECK(p.r->failure() == Error::eap_failed);
        CHECK(p.i->failure() == Error::eap_failed);
        CHECK(std::string(p.i->failure().message()).find("EAP-Failure") != std::string::npos);
    }
    SUBCASE("unknown EAP user: EAP-Failure after a challenge like any other") {
        EapPair<> p("correct horse", {{"someone@else", secret("correct horse")}});
        CHECK(!p.connect());
        CHECK(p.r->failure() == Error::eap_failed);
        CHECK(p.i->failure() == Error::eap_failed);
    }
    SUBCASE("the initiator skips EAP (PSK AUTH) when the responder requires it") {
        EapPair<> p("x");
        p.ic.eap_peer = nullptr;
        p.ic.trust = {};
        p.ic.pre_shared_keys.push_back({"b.test", secret("a pre-shared key of some length")});
        p.rc.pre_shared_keys.push_back({"a@test", secret("a pre-shared key of some length")});
        CHECK(!p.connect());
        CHECK(p.r->failure() == Error::eap_required);
        CHECK(p.i->failure() == Error::authentication_failed);
    }
    SUBCASE("an EAP initiator meets a responder that does not run EAP") {
        EapPair<> p("correct horse");
        p.rc.eap_server = nullptr;
        p.rc.trust.ca_certificates_pem.push_back(p.pki.ca_pem());  // it expects a signature, gets none
        CHECK(!p.connect());
        CHECK(p.r->failure() == Error::eap_required);
        CHECK(p.i->failure() == Error::authentication_failed);
    }
    SUBCASE("the server asks for a method the peer does not run: Nak, then Failure") {
        EapPair<> p("correct horse");
        p.rc.eap_server = [] { return std::make_unique<MskMethod::Server>("k"); };
        CHECK(!p.connect());
        CHECK(p.r->failure() == Error::eap_failed);
        CHECK(p.i->failure() == Error::eap_failed);
    }
    SUBCASE("EAP needs the responder's certificate: configurations without it are refused") {
        EapPair<> p("correct horse");
        p.ic.trust = {};
        p.ic.pre_shared_keys.push_back({"b.test", secret("a pre-shared key of some length")});
        p.rc.identity = {};
        p.rc.pre_shared_keys.push_back({"a@test", secret("a pre-shared key of some length")});
        p.make();
        CHECK(p.i->start(p.now) == Error::invalid_configuration);
        CHECK(p.r->receive(Bytes(40, 1), p.i_ep, p.now) == Error::invalid_configuration);
    }
    SUBCASE("a tampered IKE_AUTH during the EAP rounds is dropped; the retransmission completes") {
        EapPair<> p("correct horse");
        int seen = 0;
        bool tampered = false;
        p.on_wire = [&](Bytes& d, bool from_initiator) {
            // the second IKE_AUTH request carries the EAP response
            if (from_initiator && d.size() > 22 && d[22] == static_cast<std::uint8_t>(ExchangeType::ike_auth) && ++seen == 2) {
                d[d.size() - 20] ^= 0x40;
                tampered = true;
            }
            return true;
        };
        CHECK(!p.connect());
        CHECK(tampered);
        CHECK(!p.r->failure());
        p.on_wire = nullptr;
        p.now += 1s;
        REQUIRE(!p.i->on_timeout(p.now));
        p.pump();
        CHECK(p.i->is_established());
        CHECK(p.r->is_established());
    }
}

TEST_CASE("ikev2 eap: the EAP layer refuses truncated, oversized and out-of-place messages") {
    auto md5_request = [](std::uint8_t id) {
        return eap::encode(eap::Packet{eap::Code::request, id, eap::type::md5_challenge, {4, 9, 9, 9, 9}});
    };
    auto peer = [] { return eap::PeerSession(std::make_unique<eap::Md5Peer<crypto::Botan2>>("a@test", secret("pw"))); };
    SUBCASE("length field and size disagree, or too short") {
        Bytes truncated = md5_request(1);
        truncated.pop_back();
        CHECK(peer().on_message(truncated).error() == Error::eap_malformed);
        CHECK(peer().on_message(Bytes{1, 1, 0}).error() == Error::eap_malformed);
        CHECK(peer().on_message(Bytes{3, 1, 0, 5, 0}).error() == Error::eap_malformed);  // Success is 4 octets
        CHECK(peer().on_message(Bytes{9, 1, 0, 4}).error() == Error::eap_malformed);     // no such code
    }
    SUBCASE("oversized") {
        eap::Packet big{eap::Code::request, 1, eap::type::md5_challenge, Bytes(eap::max_packet_size, 1)};
        CHECK(peer().on_message(eap::encode(big)).error() == Error::eap_malformed);
    }
    SUBCASE("an MD5 challenge whose Value-Size overruns the data") {
        auto bad = eap::encode(eap::Packet{eap::Code::request, 1, eap::type::md5_challenge, {8, 1, 2}});
        CHECK(peer().on_message(bad).error() == Error::eap_malformed);
    }
    SUBCASE("peer: a Response, or Success before the method ran") {
        CHECK(peer().on_message(eap::encode(eap::Packet{eap::Code::response, 1, 1, {}})).error() == Error::eap_unexpected);
        CHECK(peer().on_message(eap::encode(eap::Packet{eap::Code::success, 1, 0, {}})).error() == Error::eap_unexpected);
    }
    SUBCASE("peer: Identity, Notification and another method are answered (Nak names ours)") {
        auto s = peer();
        auto id = s.on_message(eap::encode(eap::Packet{eap::Code::request, 5, eap::type::identity, {}}));
        REQUIRE(id);
        auto decoded = eap::decode(id->response);
        REQUIRE(decoded);
        CHECK(decoded->identifier == 5);
        CHECK(std::string(decoded->data.begin(), decoded->data.end()) == "a@test");
        auto nak = s.on_message(eap::encode(eap::Packet{eap::Code::request, 6, 26, {1}}));
        REQUIRE(nak);
        decoded = eap::decode(nak->response);
        REQUIRE(decoded);
        CHECK(decoded->type == eap::type::nak);
        CHECK(decoded->data == Bytes{eap::type::md5_challenge});
    }
    SUBCASE("server: a wrong identifier, a Request, a short MD5 value") {
        auto users = std::make_shared<const eap::Md5Users>(eap::Md5Users{{"a@test", secret("pw")}});
        auto counter = [n = std::uint8_t{0}](MutableByteView out) mutable {
            for (auto& b : out) b = n++;
        };
        eap::ServerSession server(std::make_unique<eap::Md5Server<crypto::Botan2>>(users), counter);
        auto first = server.start("a@test");
        REQUIRE(first);
        auto request = eap::decode(*first);
        REQUIRE(request);
        const std::uint8_t id = request->identifier;
        CHECK(server.on_message(eap::encode(eap::Packet{eap::Code::response, std::uint8_t(id + 1), 4, Bytes(17, 16)})).error() ==
              Error::eap_unexpected);
        CHECK(server.on_message(eap::encode(eap::Packet{eap::Code::request, id, 4, Bytes(17, 16)})).error() ==
              Error::eap_unexpected);
        auto short_value = server.on_message(eap::encode(eap::Packet{eap::Code::response, id, 4, Bytes{3, 1, 2, 3}}));
        REQUIRE(short_value);
        CHECK(short_value->kind == eap::ServerStep::Kind::failure);
    }
    SUBCASE("server: the right answer succeeds") {
        auto users = std::make_shared<const eap::Md5Users>(eap::Md5Users{{"a@test", secret("pw")}});
        eap::ServerSession server(std::make_unique<eap::Md5Server<crypto::Botan2>>(users), [](MutableByteView out) { crypto::Botan2::random(out); });
        auto first = server.start("a@test");
        REQUIRE(first);
        auto s = peer();
        auto answer = s.on_message(*first);
        REQUIRE(answer);
        auto verdict = server.on_message(answer->response);
        REQUIRE(verdict);
        CHECK(verdict->kind == eap::ServerStep::Kind::success);
        auto done = s.on_message(verdict->message);
        REQUIRE(done);
        CHECK(done->kind == eap::PeerStep::Kind::success);
    }
}

}  // namespace ikev2_eap_test
