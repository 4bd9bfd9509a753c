// IKEv2 certificate authentication (RFC 7296 2.15, RFC 7427, RFC 8420): an initiator
// and a responder in memory, each signing with its certificate's key (ECDSA P-256,
// RSA-PSS, Ed25519) and validating the other's chain against a CA; every identity type
// checked against the certificate; and the refusals, table-driven: a chain from another
// CA, an ID the certificate does not name, a signature that does not verify, a PSK
// where a signature is required, each a named code on the refusing side and
// AUTHENTICATION_FAILED on the other. Also the DER and payload codecs themselves.
#include <doctest/doctest.h>

#include <functional>

#include <tapsec/ikev2.hpp>

#include "support/ikev2_certs.hpp"
#include "support/ikev2_ip.hpp"
#include "support/ikev2_pair.hpp"

using namespace tapsec;
using namespace tapsec::ikev2;
using namespace std::chrono_literals;
using test::KeyType;
using ikev2_test::ipv4;
using ikev2_test::udp_packet;
using ikev2_test::udp_payload;

namespace ikev2_certificates_test {

Config selectors(Config c, const char* local_ts, const char* remote_ts) {
    c.local_ts = *parse_selector(local_ts);
    c.remote_ts = *parse_selector(remote_ts);
    return c;
}

Config signing(const test::CertificateFiles& own, const std::string& ca_pem, const char* local_id, const char* remote_id) {
    Config c;
    c.identity = Identity(own.certificate_pem(), own.key_pem());
    c.trust.ca_certificates_pem.push_back(ca_pem);
    if (*local_id) c.local_id = *Identification::parse(local_id);
    if (*remote_id) c.remote_id = *Identification::parse(remote_id);
    return c;
}

template <class ICrypto = crypto::Botan2, class RCrypto = crypto::Botan2>
struct CertPair : ikev2_test::EnginePair<ICrypto, RCrypto> {
    CertPair(Config ic, Config rc) {
        this->make(ikev2_test::with_selectors(std::move(ic), Role::client), ikev2_test::with_selectors(std::move(rc), Role::server));
    }
};

const char* name(KeyType t) {
    return t == KeyType::ecdsa_p256 ? "ECDSA P-256" : t == KeyType::rsa2048 ? "RSA-PSS" : "Ed25519";
}


TEST_CASE("ikev2 certificates: ECDSA P-256, RSA-PSS and Ed25519 signatures (AUTH method 14) in both directions") {
    ikev2_test::IkePki pki;
    REQUIRE(pki.pki.ok());
    for (auto i_type : {KeyType::ecdsa_p256, KeyType::rsa2048, KeyType::ed25519}) {
        const auto r_type = i_type == KeyType::ed25519 ? KeyType::ecdsa_p256 : KeyType::ed25519;  // mixed on purpose
        CAPTURE(name(i_type));
        auto ifiles = pki.initiator(i_type, std::string("i-") + name(i_type)[0]);
        auto rfiles = pki.responder(r_type, std::string("r-") + name(i_type)[0]);
        REQUIRE(!ifiles.certificate.empty());
        REQUIRE(!rfiles.certificate.empty());
        CertPair<> p(signing(ifiles, pki.ca_pem(), "a@test", "b.test"), signing(rfiles, pki.ca_pem(), "b.test", "a@test"));
        REQUIRE(p.connect());
        const auto r_peer = p.r->session_info().peer, i_peer = p.i->session_info().peer;
        CHECK(r_peer.authenticated);
        CHECK(r_peer.subject == "CN=alice");
        CHECK(r_peer.certificate_chain_der.size() == 1);
        CHECK(r_peer.psk_identity.empty());
        CHECK(i_peer.subject == "CN=b.test");
        p.ping_pong();
        REQUIRE(!p.i->close(p.now));
        p.pump();
        CHECK(p.i->is_closed());
        CHECK(p.r->is_closed());
    }
}

TEST_CASE("ikev2 certificates: FQDN, RFC822, IPv4, DER_ASN1_DN and KEY_ID identities checked against the certificate") {
    ikev2_test::IkePki pki;
    REQUIRE(pki.pki.ok());
    auto rfiles = pki.responder(KeyType::ecdsa_p256);
    // One initiator certificate naming an address, a host and a mailbox, with a subject
    // DN and the key identifier openssl puts in by default.
    auto ifiles = pki.pki.issue("multi", KeyType::ecdsa_p256, "alice", 30,
                                "email:a@test,DNS:a.test,IP:192.0.2.7\nsubjectKeyIdentifier=hash");
    REQUIRE(!ifiles.certificate.empty());
    auto der = crypto::Botan2::Certificate::chain_from_pem(ifiles.certificate_pem());
    REQUIRE(der);
    auto facts = parse_certificate(der->front().der());
    REQUIRE(facts);
    REQUIRE(!facts->subject_key_id.empty());
    const std::string key_id = "@#" + to_hex(facts->subject_key_id);

    struct Case {
        std::string local_id, remote_id;  // the initiator's own ID; what the responder expects
        IdType type;
    };
    const Case cases[] = {
        {"a@test", "a@test", IdType::rfc822_addr}, {"a.test", "@a.test", IdType::fqdn},
        {"192.0.2.7", "192.0.2.7", IdType::ipv4_addr}, {"CN=alice", "asn1dn:CN=alice", IdType::der_asn1_dn},
        {"", "CN=alice", IdType::der_asn1_dn},  // no ID configured: the certificate's subject
        {key_id, key_id, IdType::key_id},       {"A@TEST", "", IdType::rfc822_addr},  // any ID the certificate names
    };
    for (const auto& c : cases) {
        CAPTURE(c.local_id);
        if (!c.local_id.empty()) CHECK(Identification::parse(c.local_id)->type == c.type);
        CertPair<> p(signing(ifiles, pki.ca_pem(), c.local_id.c_str(), "b.test"),
                     signing(rfiles, pki.ca_pem(), "b.test", c.remote_id.c_str()));
        REQUIRE(p.connect());
        CHECK(p.r->session_info().peer.subject == "CN=alice");
    }
}

TEST_CASE("ikev2 certificates: refusals, each a named code and AUTHENTICATION_FAILED to the other side") {
    ikev2_test::IkePki pki, other_ca;
    REQUIRE(pki.pki.ok());
    REQUIRE(other_ca.pki.ok());
    auto ifiles = pki.initiator(KeyType::ecdsa_p256), rfiles = pki.responder(KeyType::ed25519);
    auto stranger = other_ca.initiator(KeyType::ecdsa_p256, "stranger");
    auto stranger_r = other_ca.responder(KeyType::ecdsa_p256, "stranger-r");

    enum class Side { responder, initiator };
    struct Case {
        std::string what;
        std::function<Config()> i, r;
        Side refuser;
        Error code;
    };
    const std::string psk = "a pre-shared key of some length";
    const Case cases[] = {
        {"initiator's chain from another CA", [&] { return signing(stranger, other_ca.ca_pem(), "a@test", "b.test"); },
         [&] { return signing(rfiles, pki.ca_pem(), "b.test", "a@test"); }, Side::responder, Error::certificate_untrusted},
        {"responder's chain from another CA", [&] { return signing(ifiles, pki.ca_pem(), "a@test", "b.test"); },
         [&] { return signing(stranger_r, pki.ca_pem(), "b.test", "a@test"); }, Side::initiator,
         Error::certificate_untrusted},
        {"initiator's ID not in its certificate", [&] { return signing(ifiles, pki.ca_pem(), "mallory@test", "b.test"); },
         [&] { return signing(rfiles, pki.ca_pem(), "b.test", ""); }, Side::responder, Error::certificate_identity_mismatch},
        {"responder's ID not in its certificate", [&] { return signing(ifiles, pki.ca_pem(), "a@test", ""); },
         [&] { return signing(rfiles, pki.ca_pem(), "c.test", "a@test"); }, Side::initiator,
         Error::certificate_identity_mismatch},
        {"initiator's DN ID is another subject", [&] { return signing(ifiles, pki.ca_pem(), "CN=bob", "b.test"); },
         [&] { return signing(rfiles, pki.ca_pem(), "b.test", ""); }, Side::responder, Error::certificate_identity_mismatch},
        {"a PSK where a signature is required",
         [&] {
             Config c;
             c.local_id = *Identification::parse("a@test");
             c.remote_id = *Identification::parse("b.test");
             c.pre_shared_keys.push_back({"b.test", SecretBytes(psk.begin(), psk.end())});
             c.trust.ca_certificates_pem.push_back(pki.ca_pem());
             return c;
         },
         [&] {
             Config c = signing(rfiles, pki.ca_pem(), "b.test", "a@test");
             return c;
         },
         Side::responder, Error::authentication_failed},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        CertPair<> p(c.i(), c.r());
        REQUIRE(!p.i->start(p.now));
        p.pump();
        CHECK(!p.i->is_established());
        CHECK(!p.r->is_established());
        CHECK(p.i->is_closed());
        CHECK(p.r->is_closed());
        const std::error_code refusing = c.refuser == Side::responder ? p.r->failure() : p.i->failure();
        CHECK(refusing == make_error_code(c.code));
        CHECK_MESSAGE(refusing.message().find("AUTHENTICATION_FAILED") != std::string::npos, refusing.message());
        // The refuser's AUTHENTICATION_FAILED reached the other side (the initiator's in an
        // INFORMATIONAL, RFC 7296 2.21.2).
        const std::error_code other = c.refuser == Side::responder ? p.i->failure() : p.r->failure();
        CHECK(other == make_error_code(Error::authentication_failed));
    }
}

TEST_CASE("ikev2 certificates: a signature that does not verify (tampered AUTH) is refused by either side") {
    ikev2_test::IkePki pki;
    REQUIRE(pki.pki.ok());
    auto ifiles = pki.initiator(KeyType::ed25519), rfiles = pki.responder(KeyType::ecdsa_p256);
    {
        CertPair<ikev2_test::FlippingSigner> p(signing(ifiles, pki.ca_pem(), "a@test", "b.test"),
                                               signing(rfiles, pki.ca_pem(), "b.test", "a@test"));
        CHECK(!p.connect());
        CHECK(p.r->failure() == make_error_code(Error::authentication_failed));
        CHECK(p.i->failure() == make_error_code(Error::authentication_failed));  // its AUTHENTICATION_FAILED notify
    }
    {
        CertPair<crypto::Botan2, ikev2_test::FlippingSigner> p(signing(ifiles, pki.ca_pem(), "a@test", "b.test"),
                                                               signing(rfiles, pki.ca_pem(), "b.test", "a@test"));
        CHECK(!p.connect());
        CHECK(p.i->failure() == make_error_code(Error::authentication_failed));
        CHECK(!p.i->is_established());
        CHECK(p.r->failure() == make_error_code(Error::authentication_failed));  // told in an INFORMATIONAL
        CHECK(!p.r->is_established());
    }
}

TEST_CASE("ikev2 certificates: a certificate-signing initiator and a PSK responder, and a key that is not the certificate's") {
    ikev2_test::IkePki pki;
    REQUIRE(pki.pki.ok());
    auto ifiles = pki.initiator(KeyType::ecdsa_p256), rfiles = pki.responder(KeyType::ecdsa_p256);
    const std::string psk = "a pre-shared key of some length";
    // Mixed: the initiator signs, the responder proves the PSK (RFC 7296 2.15 lets each side choose).
    Config ic = signing(ifiles, pki.ca_pem(), "a@test", "b.test");
    ic.trust = {};
    ic.pre_shared_keys.push_back({"b.test", SecretBytes(psk.begin(), psk.end())});
    Config rc;
    rc.local_id = *Identification::parse("b.test");
    rc.remote_id = *Identification::parse("a@test");
    rc.pre_shared_keys.push_back({"a@test", SecretBytes(psk.begin(), psk.end())});
    rc.trust.ca_certificates_pem.push_back(pki.ca_pem());
    CertPair<> p(ic, rc);
    REQUIRE(p.connect());
    CHECK(p.r->session_info().peer.subject == "CN=alice");
    CHECK(p.i->session_info().peer.psk_identity == "b.test");
    p.ping_pong();

    // A certificate with another certificate's key: refused when the engine is made.
    Config wrong = signing(ifiles, pki.ca_pem(), "a@test", "b.test");
    wrong.identity = Identity(ifiles.certificate_pem(), rfiles.key_pem());
    Engine<crypto::Botan2> e(Role::client, selectors(wrong, "10.0.0.1", "10.0.0.2"));
    CHECK(e.start(Instant{}) == make_error_code(Error::invalid_configuration));
}

TEST_CASE("ikev2 certificates: RFC 7427 AlgorithmIdentifiers, CERT / CERTREQ / AUTH codecs, DN text and DER") {
    // RFC 7427 Appendix A.3.3 (ecdsa-with-sha256) and RFC 8420 (Ed25519), byte for byte.
    CHECK(to_hex(algorithm_identifier(crypto::SignatureScheme::ecdsa_secp256r1_sha256)) == "300a06082a8648ce3d040302");
    CHECK(to_hex(algorithm_identifier(crypto::SignatureScheme::ed25519)) == "300506032b6570");
    // RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32 (RFC 7427 A.4.3's parameters).
    CHECK(to_hex(algorithm_identifier(crypto::SignatureScheme::rsa_pss_rsae_sha256)) ==
          "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d060960864801"
          "65030402010500a203020120");
    for (auto s : {crypto::SignatureScheme::ecdsa_secp256r1_sha256, crypto::SignatureScheme::ed25519,
                   crypto::SignatureScheme::rsa_pss_rsae_sha256, crypto::SignatureScheme::rsa_pkcs1_sha256,
                   crypto::SignatureScheme::rsa_pss_rsae_sha512})
        CHECK(scheme_of(algorithm_identifier(s)) == s);
    // PSS without the NULL hash parameters (RFC 4055 allows either).
    bool ok = false;
    const Bytes pss_no_null = from_hex(
        "303d06092a864886f70d01010a3030a00d300b0609608648016503040201a11a301806092a864886f70d010108300b06096086480165030402"
        "01a203020120",
        &ok);
    REQUIRE(ok);
    CHECK(scheme_of(pss_no_null) == crypto::SignatureScheme::rsa_pss_rsae_sha256);
    // Refused: SHA-1 RSA, a salt of 20, trailing bytes, an unknown OID.
    for (const char* hex : {"300d06092a864886f70d0101050500", "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a"
                                                              "06092a864886f70d010108300d06096086480165030402010500a203020114",
                            "300506032b657000", "300506032b6571"}) {
        CAPTURE(hex);
        CHECK(!scheme_of(from_hex(hex, &ok)));
    }

    // AUTH method 14 data: length octet, AlgorithmIdentifier, signature.
    const SignatureAuth a{algorithm_identifier(crypto::SignatureScheme::ed25519), Bytes(64, 0xab)};
    auto back = decode_signature_auth(encode(a));
    REQUIRE(back);
    CHECK(back->algorithm == a.algorithm);
    CHECK(back->signature == a.signature);
    struct Bad {
        const char* what;
        Bytes data;
    };
    const Bad bad[] = {{"empty", {}},
                       {"length past the end", {0x20, 0x30, 0x1e}},
                       {"no signature", {0x07, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70}},
                       {"length octet disagrees with the SEQUENCE", {0x06, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x01}},
                       {"not a SEQUENCE", {0x02, 0x04, 0x00, 0x01}}};
    for (const auto& b : bad) {
        CAPTURE(b.what);
        CHECK(decode_signature_auth(b.data).error() == make_error_code(Error::malformed_message));
    }
    // CERT needs data; CERTREQ's hashes are 20 octets each; SIGNATURE_HASH_ALGORITHMS is 16-bit ids.
    CHECK(!decode_cert(Bytes{4}));
    CHECK(decode_certreq(Bytes{4}));
    CHECK(!decode_certreq(Bytes(22, 4)));
    CHECK(decode_certreq(Bytes(41, 4)));
    auto hashes = decode_hash_algorithms(Bytes{0, 2, 0, 5});
    REQUIRE(hashes);
    CHECK(*hashes == std::vector<std::uint16_t>{2, 5});
    CHECK(!decode_hash_algorithms(Bytes{0, 2, 0}));

    // DN text <-> DER, and identities compared by attributes.
    auto dn = parse_dn_text("C=CH, O=tapsec test, CN=b.test");
    REQUIRE(dn);
    CHECK(to_string(*dn) == "C=CH, O=tapsec test, CN=b.test");
    auto round = parse_dn(encode_dn(*dn));
    REQUIRE(round);
    CHECK(*round == *dn);
    CHECK(!parse_dn_text("CN"));
    CHECK(!parse_dn_text("XX=1"));
    CHECK(!parse_dn_text("CN="));
    auto id = Identification::parse("C=CH, O=tapsec test, CN=b.test");
    REQUIRE(id);
    CHECK(id->type == IdType::der_asn1_dn);
    CHECK(Identification::parse("@#0a0B")->payload().data == Bytes{0x0a, 0x0b});
    CHECK(!Identification::parse("@#0a0"));
    CHECK(Identification::parse("keyid:#00ff")->type == IdType::key_id);
    CHECK(Identification::parse("email:x")->type == IdType::rfc822_addr);
    CHECK(Identification::from_payload(id->payload())->value == "C=CH, O=tapsec test, CN=b.test");
}

TEST_CASE("ikev2 certificates: the certificate parser reads only inside its input") {
    ikev2_test::IkePki pki;
    REQUIRE(pki.pki.ok());
    auto files = pki.pki.issue("parse", KeyType::rsa2048, "alice", 30, "email:a@test,DNS:a.test,IP:192.0.2.7");
    auto chain = crypto::Botan2::Certificate::chain_from_pem(files.certificate_pem());
    REQUIRE(chain);
    const Bytes der = chain->front().der();
    auto facts = parse_certificate(der);
    REQUIRE(facts);
    CHECK(facts->emails == std::vector<std::string>{"a@test"});
    CHECK(facts->dns_names == std::vector<std::string>{"a.test"});
    CHECK(facts->ip_addresses == std::vector<Bytes>{Bytes{192, 0, 2, 7}});
    CHECK(to_string(*parse_dn(facts->subject)) == "CN=alice");
    // Every truncation fails cleanly (and ASan watches the reads).
    for (std::size_t n = 0; n < der.size(); n += 7) CHECK(!parse_certificate(ByteView(der).first(n)));
}

TEST_CASE("ikev2 certificates: no signature with a hash the peer did not announce (RFC 7427 4)") {
    ikev2_test::IkePki pki;
    REQUIRE(pki.pki.ok());
    auto ifiles = pki.initiator(KeyType::ecdsa_p256), rfiles = pki.responder(KeyType::ecdsa_p256);
    CertPair<> p(signing(ifiles, pki.ca_pem(), "a@test", "b.test"), signing(rfiles, pki.ca_pem(), "b.test", "a@test"));
    // The responder's IKE_SA_INIT answer, rebuilt without its SIGNATURE_HASH_ALGORITHMS.
    bool stripped = false;
    p.on_wire = [&](Bytes& d, bool from_initiator) {
        if (from_initiator || d.size() < 4) return true;
        auto m = parse_message(ByteView(d).subspan(4));
        if (!m || m->header.exchange != ExchangeType::ike_sa_init) return true;
        std::vector<RawPayload> kept;
        for (auto& payload : m->payloads) {
            auto n = payload.type == PayloadType::notify ? decode_notify(payload.body) : Result<NotifyPayload>(make_error_code(Error::invalid_syntax));
            if (n && n->type == NotifyType::signature_hash_algorithms) stripped = true;
            else kept.push_back(payload);
        }
        Bytes rebuilt(4, 0);
        append(rebuilt, serialize_message(m->header, kept));
        d = rebuilt;
        return true;
    };
    CHECK(!p.connect());
    CHECK(stripped);
    CHECK(p.i->failure() == make_error_code(Error::signature_scheme_unsupported));
    CHECK(p.i->failure().message().find("not supported or not announced") != std::string::npos);
}

TEST_CASE("ikev2 certificates: our chain and key are parsed once per Config, again when the identity changes") {
    ikev2_test::IkePki pki;
    REQUIRE(pki.pki.ok());
    auto ifiles = pki.initiator(KeyType::ed25519), rfiles = pki.responder(KeyType::ecdsa_p256);
    const Config ic = signing(ifiles, pki.ca_pem(), "a@test", "b.test");
    const Config rc = signing(rfiles, pki.ca_pem(), "b.test", "a@test");
    const void* first = nullptr;
    for (int connection = 0; connection < 2; ++connection) {  // two IKE SAs from the same Configs
        CAPTURE(connection);
        CertPair<> p(ic, rc);
        REQUIRE(p.connect());
        p.ping_pong();
        REQUIRE(ic.parsed_credentials->credentials);
        if (connection == 0) first = ic.parsed_credentials->credentials.get();
        CHECK(ic.parsed_credentials->credentials.get() == first);  // the same parsed chain and key
        CHECK(ic.parsed_credentials->certreq_hashes.has_value());
    }
    // A copy of the Config shares the slot; a changed identity is parsed (and checked) anew.
    Config other = ic;
    other.identity = Identity(ifiles.certificate_pem(), rfiles.key_pem());  // not the certificate's key
    Engine<crypto::Botan2> refused(Role::client, selectors(other, "10.0.0.1", "10.0.0.2"));
    CHECK(refused.start(Instant{}) == make_error_code(Error::invalid_configuration));
    CHECK(ic.parsed_credentials->credentials.get() == first);  // a failed parse leaves the slot as it was
    Config reissued = ic;
    auto again = pki.initiator(KeyType::ecdsa_p256, "alice-2");
    reissued.identity = Identity(again.certificate_pem(), again.key_pem());
    CertPair<> p(reissued, rc);
    REQUIRE(p.connect());
    CHECK(ic.parsed_credentials->credentials.get() != first);
}

}  // namespace ikev2_certificates_test
