// RFC 8448 Section 3 ("Simple 1-RTT Handshake") replayed through the REAL state
// machines, ClientHandshake and ServerHandshake, with the trace's randoms, ephemeral
// private keys and RSA-PSS salt fed through the injected random source
// (CommonConfig::random) and a fixed wall clock (CommonConfig::wall_clock).
//
// What matches byte for byte, and where it stops (docs/tls13-key-schedule.md, "RFC 8448
// through the state machines", says the same):
//  - Server, given the trace's ClientHello: ServerHello, both handshake traffic secrets,
//    Certificate. The trace's EncryptedExtensions carries supported_groups listing P-521
//    and five FFDHE groups, which this implementation does not do; advertising them would
//    be faking, so our EncryptedExtensions differs by exactly that extension (checked), and
//    the transcript, hence CertificateVerify and Finished, differ from there on. They are
//    checked semantically instead: CertificateVerify carries the trace's PSS salt (recovered
//    from both signatures with the public key) and verifies; with the trace's transcript the
//    same key and salt give the trace's signature byte for byte; Finished verifies under the
//    trace's server handshake traffic secret; the NewSessionTicket has the trace's lifetime,
//    age_add and early-data limit (its ticket is NSS's sealed state, opaque by design).
//  - Client, given the trace's randoms: the ClientHello matches the trace in every field we
//    send (random, session id, suites in order, SNI, key share, versions, record_size_limit);
//    the trace's also offers TLS 1.2 extensions (renegotiation_info, session_ticket), DSA and
//    SHA-1 signature schemes, P-521 and FFDHE groups, which a TLS 1.3-only client must not
//    claim. The trace's ServerHello and EncryptedExtensions are accepted; the key agreement
//    gives the trace's shared secret; its Certificate validates at the injected time (and
//    is expired at today's); its CertificateVerify is then refused, as it must be, because it
//    signs the trace's transcript, not ours.
#include "tls13_rfc8448_trace.hpp"

#include <botan/bigint.h>
#include <botan/numthry.h>
#include <botan/pem.h>
#include <botan/pkcs8.h>
#include <botan/rsa.h>

#include <deque>
#include <memory>

#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tls13/client.hpp>
#include <tapsec/tls13/server.hpp>

namespace tls13_rfc8448_replay_test {

using namespace rfc8448;
using Crypto = crypto::DefaultProvider;

// ---- the trace's values (RFC 8448 Sections 2 and 3) ---------------------------------------

/// MGF1 (RFC 8017 B.2.1) with SHA-256.
Bytes mgf1_sha256(ByteView seed, std::size_t length) {
    Bytes out;
    for (std::uint32_t counter = 0; out.size() < length; ++counter) {
        Bytes block(seed.begin(), seed.end());
        for (int shift = 24; shift >= 0; shift -= 8) block.push_back(static_cast<std::uint8_t>(counter >> shift));
        append(out, Crypto::hash(crypto::HashAlgorithm::sha256, block));
    }
    out.resize(length);
    return out;
}

/// The salt inside an RSA-PSS (SHA-256, 32-byte salt) signature by the trace's key: the
/// RSA public operation, then EMSA-PSS decoding (RFC 8017 9.1.2) up to the salt.
Bytes pss_salt(ByteView signature) {
    const Botan::BigInt n = big(rsa_modulus);
    const Botan::BigInt em_value = Botan::power_mod(Botan::BigInt(signature.data(), signature.size()), 65537, n);
    const std::size_t em_length = (n.bits() - 1 + 7) / 8;  // emBits = modBits - 1
    Bytes em(em_length);
    Botan::BigInt::encode_1363(em.data(), em.size(), em_value);
    REQUIRE(em.back() == 0xbc);
    const std::size_t db_length = em_length - 32 - 1;
    const ByteView h = ByteView(em).subspan(db_length, 32);
    Bytes db = mgf1_sha256(h, db_length);
    for (std::size_t i = 0; i < db_length; ++i) db[i] ^= em[i];
    db[0] &= static_cast<std::uint8_t>(0xff >> (8 * em_length - (n.bits() - 1)));
    const std::size_t separator = db_length - 32 - 1;
    for (std::size_t i = 0; i < separator; ++i) REQUIRE(db[i] == 0);
    REQUIRE(db[separator] == 0x01);
    return Bytes(db.begin() + static_cast<std::ptrdiff_t>(separator) + 1, db.end());
}

/// The signature field of a CertificateVerify message.
Bytes signature_of(const Bytes& certificate_verify) {
    auto cv = decode_certificate_verify(ByteView(certificate_verify).subspan(4));
    REQUIRE(cv.ok());
    return cv->signature;
}

// The Section 3 trace is in tls13_rfc8448_simple_1rtt_test.cpp; the values this test
// needs are repeated here from the same RFC text (tls13_rfc8448_extract.py rfc8448.txt 3).
struct Section3 {
    Bytes client_random, client_private, server_private;
    Bytes client_hello, server_hello, encrypted_extensions, certificate, certificate_verify, server_finished;
    Bytes new_session_ticket, shared_secret, client_hs_traffic, server_hs_traffic;
};

Section3 section3() {
    Section3 t;
    t.client_private = from_hex("70a1a8f491e82d530542c6d7a8dcd8cfa9e31f59bb336b550b13bfe199f542c5");
    t.server_private = from_hex("5aa93ea18f4c5e4a39856f573af4ec1503bad0d5cdabaffc26c1ab4c361f86c8");
    t.client_hello = from_hex(
        "010000c003036660261ff947cea49cce6cfad687f457cf1b14531ba14131a0e8f309a1d0b9c400000613011303130201"
        "0000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400"
        "230000003300260024001d00204cfdfcd178b784bf328cae793b136f2aedce005ff183d7bb1495207236647037002b00"
        "03020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c"
        "00024001");
    t.client_random = Bytes(t.client_hello.begin() + 6, t.client_hello.begin() + 38);
    t.server_hello = from_hex(
        "0200005603031274991495cf425857262dde2299342c315afba9b64a87d552515614e01b045d00130100002e00330024"
        "001d0020c7bb6bdfc26350b929a08a41a76ddac210b096868d960c4845987dc3a7fa650a002b00020304");
    t.encrypted_extensions = from_hex("080000240022000a00140012001d00170018001901000101010201030104001c0002400100000000");
    t.certificate = from_hex(
        "0b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a"
        "06035504031303727361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a"
        "0603550403130372736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d98"
        "0836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced4312"
        "0998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d0"
        "3e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b060355"
        "1d0f0404030205a0300d06092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f"
        "8a7b337d2df7a594365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102"
        "702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8"
        "f8961229ac9187b42b4de10000");
    t.certificate_verify = from_hex(
        "0f00008408040080ace0af8e87d7c63cc9dbe7dcc12ff83bd55df0ccda9bf4e5a0f70100d9bc4d25aa684fd9d347642c"
        "942222526e163e3b0fba312b10e9b67eb0ac9c2be5fef490f81d7827e3bc12fa027ab439e71cc8459c14b94a8f3506ec"
        "44547d6c23e19cc7f9d5e0d1f595108fc240f5b0842c485a321487c4950377a52e917294715567cd");
    t.server_finished = from_hex("140000204c92b1b256d861a1830167827d3e288d1a76f03484e9ec886d4ff66149cbec2f");
    t.new_session_ticket = from_hex(
        "040000c90000001e933d093202000000b2f35edae4e60404d6f40fa17f000000008393d163fb4f5f105fe2056caeb32a"
        "c7007070045931026db07d58dd58090d629af59ecb7fba353d5d9653a708fbcf0f515c1b82db6b08977179dfc684d22f"
        "cf7bd5c12222ab63ffd9d2bc46176d144ae98ad93416894822ac5064065f92995a6f052fa3a731703657817ea7a8de73"
        "148661768f7f62098fb45c0a9dde04a9cf1aa4206f13dd055df3ed5fa681bbf876e362ad9c0a68d2b5266c79aa806cbf"
        "e6113b0008002a000400000400");
    t.shared_secret = from_hex("1bea3fdfd25f94033804b68997a55d1931dc51124ad7f6e28959bb4672e3bd13");
    t.client_hs_traffic = from_hex("d7c28b57a857e961b5bf3e1d7b18d02757c4f97acb66a23372e5a7f3d0a71e07");
    t.server_hs_traffic = from_hex("3031e9c2c26ecc154bc36826e87feeff8f4547df52596747b2dcabf92b18fb59");
    return t;
}

tls13::Config rfc8448_server_config(const Section3& t, std::shared_ptr<ScriptedRandom> random) {
    tls13::Config c;
    c.identity = Identity(certificate_pem(certificate_der(t.certificate)), rfc8448_rsa_key_pem());
    c.middlebox_compatibility = false;
    c.record_size_limit = 16385;  // the trace's EncryptedExtensions accepts the client's limit with its own
    c.tickets_to_send = 1;
    c.ticket_lifetime = std::chrono::seconds(30);  // the trace's NewSessionTicket
    c.max_early_data = 1024;
    c.anti_replay = std::make_shared<AntiReplay>();
    c.ticket_key = TicketKey::from_bytes(Bytes(16, 0x42), Bytes(32, 0x24));  // no key drawn at start
    c.wall_clock = during_trace;
    c.random = ScriptedRandom::install(std::move(random));
    return c;
}


TEST_CASE("RFC 8448 section 3 values used by the state-machine replay are the trace's") {
    // Guards the copy above against drifting from the pasted trace of the key-schedule test.
    const auto t = section3();
    auto client = Crypto::KeyShare::from_private(crypto::KeyExchangeGroup::x25519, t.client_private);
    auto server = Crypto::KeyShare::from_private(crypto::KeyExchangeGroup::x25519, t.server_private);
    REQUIRE(client.ok());
    REQUIRE(server.ok());
    CHECK(hex(client->agree(server->public_key()).value()) == hex(t.shared_secret));
    auto hs = EarlySecret<Crypto>::without_psk(TLS_AES_128_GCM_SHA256).into_handshake(t.shared_secret);
    Transcript<Crypto> transcript;
    transcript.add(t.client_hello);
    transcript.set_hash(crypto::HashAlgorithm::sha256);
    transcript.add(t.server_hello);
    CHECK(hex(hs.client_handshake_traffic_secret(transcript.current_hash()).secret) == hex(t.client_hs_traffic));
    CHECK(hex(hs.server_handshake_traffic_secret(transcript.current_hash()).secret) == hex(t.server_hs_traffic));
}

TEST_CASE("RFC 8448 section 3: the trace's ClientHello through the real ServerHandshake") {
    const auto t = section3();
    const Bytes trace_salt = pss_salt(signature_of(t.certificate_verify));
    auto random = std::make_shared<ScriptedRandom>();
    random->script = {Bytes(t.server_hello.begin() + 6, t.server_hello.begin() + 38),  // ServerHello.random
                      t.server_private,                                                 // X25519 ephemeral key
                      trace_salt,                                                       // RSA-PSS salt
                      Bytes(t.new_session_ticket.begin() + 8, t.new_session_ticket.begin() + 12)};  // ticket_age_add
    const auto config = rfc8448_server_config(t, random);
    ServerHandshake<Crypto> server(config);
    REQUIRE_FALSE(server.start());
    REQUIRE_FALSE(server.handle(raw(t.client_hello)));
    auto flight = drain(server);
    REQUIRE(flight.sent.size() == 5);
    const Bytes& server_hello = flight.sent[0].second;
    const Bytes& encrypted_extensions = flight.sent[1].second;
    const Bytes& certificate = flight.sent[2].second;
    const Bytes& certificate_verify = flight.sent[3].second;
    const Bytes& finished = flight.sent[4].second;
    CHECK(flight.sent[0].first == Level::initial);
    for (std::size_t i = 1; i < 5; ++i) CHECK(flight.sent[i].first == Level::handshake);

    // Byte for byte: ServerHello, the handshake traffic secrets, Certificate.
    CHECK(hex(server_hello) == hex(t.server_hello));
    REQUIRE(flight.write_keys.size() == 2);  // handshake, then application
    REQUIRE(flight.read_keys.size() == 1);   // the client's handshake key
    CHECK(hex(flight.write_keys[0].secret) == hex(t.server_hs_traffic));
    CHECK(hex(flight.read_keys[0].secret) == hex(t.client_hs_traffic));
    CHECK(hex(certificate) == hex(t.certificate));

    // EncryptedExtensions: the same decisions; the trace's has one extension more,
    // supported_groups, naming groups we do not implement (P-521, FFDHE).
    auto ours = decode_encrypted_extensions(ByteView(encrypted_extensions).subspan(4));
    auto trace = decode_encrypted_extensions(ByteView(t.encrypted_extensions).subspan(4));
    REQUIRE(ours.ok());
    REQUIRE(trace.ok());
    CHECK(ours->record_size_limit == trace->record_size_limit);
    CHECK(ours->server_name_acknowledged == trace->server_name_acknowledged);
    CHECK(ours->early_data == trace->early_data);
    CHECK(ours->alpn == trace->alpn);
    CHECK(missing_from(extension_types(trace->extensions), extension_types(ours->extensions)) ==
          std::vector<std::uint16_t>{ext::supported_groups});
    CHECK(missing_from(extension_types(ours->extensions), extension_types(trace->extensions)).empty());
    // Without that extension the bytes are the trace's, in the trace's order.
    Bytes trace_without_groups = frame(HandshakeType::encrypted_extensions, [&] {
        Bytes body;
        wire::Writer w(body);
        std::vector<Extension> kept;
        for (const auto& x : trace->extensions)
            if (x.type != ext::supported_groups) kept.push_back(x);
        tls13::detail::write_extensions(w, kept);
        return body;
    }());
    CHECK(hex(encrypted_extensions) == hex(trace_without_groups));

    // CertificateVerify: the trace's scheme and salt (drawn from the injected source),
    // valid over our transcript; over the trace's transcript the same key and salt make
    // the trace's signature byte for byte.
    auto cv = decode_certificate_verify(ByteView(certificate_verify).subspan(4));
    REQUIRE(cv.ok());
    CHECK(cv->algorithm == 0x0804);
    CHECK(hex(pss_salt(cv->signature)) == hex(trace_salt));
    auto leaf = Crypto::Certificate::from_der(certificate_der(t.certificate));
    REQUIRE(leaf.ok());
    Transcript<Crypto> transcript;
    transcript.set_hash(crypto::HashAlgorithm::sha256);
    for (const auto* m : {&t.client_hello, &server_hello, &encrypted_extensions, &certificate}) transcript.add(*m);
    const auto content = [](ByteView hash) {
        Bytes c(64, 0x20);
        append(c, as_bytes("TLS 1.3, server CertificateVerify"));
        c.push_back(0);
        append(c, hash);
        return c;
    };
    CHECK(leaf->verify(crypto::SignatureScheme::rsa_pss_rsae_sha256, content(transcript.current_hash()), cv->signature));
    {
        Transcript<Crypto> trace_transcript;
        trace_transcript.set_hash(crypto::HashAlgorithm::sha256);
        for (const auto* m : {&t.client_hello, &t.server_hello, &t.encrypted_extensions, &t.certificate})
            trace_transcript.add(*m);
        auto key = Crypto::PrivateKey::from_pem(rfc8448_rsa_key_pem());
        REQUIRE(key.ok());
        auto again = key->sign(crypto::SignatureScheme::rsa_pss_rsae_sha256, content(trace_transcript.current_hash()),
                               [&](MutableByteView out) {
                                   REQUIRE(out.size() == trace_salt.size());
                                   std::copy(trace_salt.begin(), trace_salt.end(), out.begin());
                               });
        REQUIRE(again.ok());
        CHECK(hex(*again) == hex(signature_of(t.certificate_verify)));
    }
    transcript.add(certificate_verify);

    // Finished: verifies under the trace's server handshake traffic secret.
    const TrafficSecret server_hs = traffic(TLS_AES_128_GCM_SHA256, t.server_hs_traffic);
    const TrafficSecret client_hs = traffic(TLS_AES_128_GCM_SHA256, t.client_hs_traffic);
    CHECK(verify_finished<Crypto>(server_hs, transcript.current_hash(), ByteView(finished).subspan(4)));
    transcript.add(finished);

    // The client's Finished for this transcript, under the trace's client handshake secret,
    // completes the handshake; the ticket then carries the trace's lifetime, age_add and
    // early-data limit (its nonce and sealed state are this server's own format).
    REQUIRE_FALSE(server.handle(raw(encode_finished(finished_verify_data<Crypto>(client_hs, transcript.current_hash())))));
    CHECK(server.established());
    auto after = drain(server);
    REQUIRE(after.sent.size() == 1);
    CHECK(after.sent[0].first == Level::application);
    auto ticket = decode_new_session_ticket(ByteView(after.sent[0].second).subspan(4));
    auto trace_ticket = decode_new_session_ticket(ByteView(t.new_session_ticket).subspan(4));
    REQUIRE(ticket.ok());
    REQUIRE(trace_ticket.ok());
    CHECK(ticket->lifetime == trace_ticket->lifetime);
    CHECK(ticket->age_add == trace_ticket->age_add);
    CHECK(ticket->max_early_data_size == trace_ticket->max_early_data_size);
    bool completed = false;
    for (const auto& e : after.events) completed |= e.kind == EventKind::handshake_complete && !e.reason;
    CHECK(completed);
    // Every random value came from the injected source: the scripted four, then the
    // ticket's id (16) and sealing nonce (12).
    CHECK(random->script.empty());
    CHECK(random->draws == std::vector<std::size_t>{32, 32, 32, 4, 16, 12});
}

TEST_CASE("RFC 8448 section 3: the trace's server flight through the real ClientHandshake") {
    const auto t = section3();
    auto random = std::make_shared<ScriptedRandom>();
    random->script = {t.client_random, t.client_private};
    tls13::Config config;
    config.server_name = "server";
    config.cipher_suites = {"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_256_GCM_SHA384"};
    config.groups = {"x25519", "secp256r1"};
    config.record_size_limit = 16385;
    config.middlebox_compatibility = false;  // the trace's session id is empty
    config.random = ScriptedRandom::install(random);
    config.wall_clock = during_trace;
    // The trace's certificate names "rsa", not "server": the name is accepted by the
    // application's validator; the chain is the trace's self-signed certificate.
    config.delegate_authentication = true;
    const Bytes trace_leaf = certificate_der(t.certificate);
    config.validate_peer = [&](const PeerIdentity& peer) -> std::error_code {
        if (peer.certificate_chain_der.size() == 1 && peer.certificate_chain_der[0] == trace_leaf) return {};
        return Errc::certificate_untrusted;
    };
    ClientHandshake<Crypto> client(config);
    REQUIRE_FALSE(client.start({}));
    auto hello = drain(client);
    REQUIRE(hello.sent.size() == 1);
    const Bytes& client_hello = hello.sent[0].second;
    CHECK(random->draws == std::vector<std::size_t>{32, 32});

    // Every field we send is the trace's.
    auto ours = decode_client_hello(ByteView(client_hello).subspan(4));
    auto trace = decode_client_hello(ByteView(t.client_hello).subspan(4));
    REQUIRE(ours.ok());
    REQUIRE(trace.ok());
    CHECK(ours->random == trace->random);
    CHECK(ours->legacy_session_id == trace->legacy_session_id);
    CHECK(ours->cipher_suites == trace->cipher_suites);
    CHECK(ours->server_name == trace->server_name);
    REQUIRE(ours->key_shares.has_value());
    REQUIRE(trace->key_shares.has_value());
    REQUIRE(ours->key_shares->size() == 1);
    CHECK(ours->key_shares->front().group == trace->key_shares->front().group);
    CHECK(hex(ours->key_shares->front().key_exchange) == hex(trace->key_shares->front().key_exchange));
    CHECK(ours->supported_versions == trace->supported_versions);
    CHECK(ours->record_size_limit == trace->record_size_limit);
    for (auto g : ours->supported_groups)
        CHECK(std::find(trace->supported_groups.begin(), trace->supported_groups.end(), g) != trace->supported_groups.end());
    // Our signature schemes are the trace's TLS 1.3 ones plus Ed25519, which NSS did not offer.
    std::vector<std::uint16_t> our_schemes = ours->signature_algorithms, trace_schemes = trace->signature_algorithms;
    std::sort(our_schemes.begin(), our_schemes.end());
    std::sort(trace_schemes.begin(), trace_schemes.end());
    CHECK(missing_from(our_schemes, trace_schemes) == std::vector<std::uint16_t>{0x0807});
    // What the trace offers beyond that: TLS 1.2's renegotiation_info and session_ticket,
    // and psk_key_exchange_modes without a PSK.
    CHECK(missing_from(extension_types(trace->extensions), extension_types(ours->extensions)) ==
          std::vector<std::uint16_t>{0x0023, ext::psk_key_exchange_modes, 0xff01});

    // The trace's ServerHello: accepted, and the agreement with the injected key gives the
    // trace's shared secret (the read key is that secret's, over our transcript).
    REQUIRE_FALSE(client.handle(raw(t.server_hello)));
    auto keys = drain(client);
    REQUIRE(keys.read_keys.size() == 1);
    Transcript<Crypto> transcript;
    transcript.set_hash(crypto::HashAlgorithm::sha256);
    transcript.add(client_hello);
    transcript.add(t.server_hello);
    auto hs = EarlySecret<Crypto>::without_psk(TLS_AES_128_GCM_SHA256).into_handshake(t.shared_secret);
    CHECK(hex(keys.read_keys[0].secret) == hex(hs.server_handshake_traffic_secret(transcript.current_hash()).secret));
    REQUIRE(keys.write_keys.size() == 1);
    CHECK(hex(keys.write_keys[0].secret) == hex(hs.client_handshake_traffic_secret(transcript.current_hash()).secret));

    // EncryptedExtensions and Certificate: accepted.
    REQUIRE_FALSE(client.handle(raw(t.encrypted_extensions)));
    REQUIRE_FALSE(client.handle(raw(t.certificate)));
    // CertificateVerify signs the trace's transcript, which begins with the trace's
    // ClientHello, not ours: refused, as it must be.
    CHECK(client.handle(raw(t.certificate_verify)) == Error::bad_certificate_verify);
}

TEST_CASE("RFC 8448 section 3: certificate validity is judged at the injected wall clock") {
    const auto t = section3();
    const auto certificate_accepted_at = [&](std::function<std::chrono::system_clock::time_point()> clock) {
        auto random = std::make_shared<ScriptedRandom>();
        random->script = {t.client_random, t.client_private};
        tls13::Config config;
        config.cipher_suites = {"TLS_AES_128_GCM_SHA256"};
        config.middlebox_compatibility = false;
        config.record_size_limit = 16385;  // the trace's EncryptedExtensions answers one
        config.trust.ca_certificates_pem = {certificate_pem(certificate_der(t.certificate))};  // its own anchor
        config.random = ScriptedRandom::install(random);
        config.wall_clock = std::move(clock);
        ClientHandshake<Crypto> client(config);
        REQUIRE_FALSE(client.start({}));
        REQUIRE_FALSE(client.handle(raw(t.server_hello)));
        REQUIRE_FALSE(client.handle(raw(t.encrypted_extensions)));
        return client.handle(raw(t.certificate));
    };
    CHECK_FALSE(certificate_accepted_at(during_trace));
    const auto after_expiry = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)); };  // 2027
    CHECK(certificate_accepted_at(after_expiry) == Errc::certificate_expired);
}

TEST_CASE("TLS 1.3: with the clock and random source injected, two handshakes are identical byte for byte") {
    // Every draw (randoms, ephemeral keys, signature salt, ticket key, ids and nonces)
    // comes from the injected source: the same source gives the same wire bytes.
    const auto t = section3();
    const auto run = [&] {
        auto client_random = std::make_shared<ScriptedRandom>();
        auto server_random = std::make_shared<ScriptedRandom>();
        client_random->filler = 0x11;
        server_random->filler = 0x77;
        tls13::Config client_config, server_config = rfc8448_server_config(t, server_random);
        server_config.ticket_key = nullptr;  // drawn from the injected source too
        client_config.random = ScriptedRandom::install(client_random);
        client_config.wall_clock = during_trace;
        client_config.delegate_authentication = true;
        client_config.validate_peer = [](const PeerIdentity&) { return std::error_code{}; };
        client_config.session_cache = std::make_shared<InMemorySessionCache>();
        client_config.server_name = "replay";
        ClientHandshake<Crypto> client(client_config);
        ServerHandshake<Crypto> server(server_config);
        std::vector<Bytes> wire;
        REQUIRE_FALSE(server.start());
        REQUIRE_FALSE(client.start({}));
        for (int round = 0; round < 6; ++round) {
            for (auto* sender : {static_cast<HandshakeCommon<Crypto>*>(&client), static_cast<HandshakeCommon<Crypto>*>(&server)}) {
                auto drained = drain(*sender);
                for (auto& [level, message] : drained.sent) {
                    wire.push_back(message);
                    const auto m = raw(message);
                    const auto ec = sender == &client ? server.handle(m) : client.handle(m);
                    REQUIRE_MESSAGE(!ec, ec.message());
                }
            }
        }
        CHECK(client.established());
        CHECK(server.established());
        return wire;
    };
    const auto first = run();
    const auto second = run();
    REQUIRE(first.size() >= 7);  // CH, SH, EE, Certificate, CertificateVerify, Finished x2, ticket
    CHECK(first == second);
}

TEST_CASE("KeyShare::from_private: the same private bytes give the same share in both providers") {
    using crypto::KeyExchangeGroup;
    // RFC 8448 Section 5's P-256 client key, and X25519 / P-384 scalars of our own.
    const Bytes p256 = from_hex("137b20ef0ca19c55dc62fcb087dbdcde1503cbea087e99f6894c85efad647e4d");
    const Bytes p256_public = from_hex(
        "04a8d6b4fc93bfb595d867814c45689f74708a33714a9340fe795d7958ef47fd56039baa382032f78d4c4bca4f24f65560b53b1c076be4"
        "1bcc099856758545a898");
    struct Case {
        KeyExchangeGroup group;
        Bytes key;
    };
    for (const auto& c : {Case{KeyExchangeGroup::x25519, Bytes(32, 0x5a)}, Case{KeyExchangeGroup::secp256r1, p256},
                          Case{KeyExchangeGroup::secp384r1, Bytes(48, 0x33)}}) {
        CAPTURE(static_cast<int>(c.group));
        auto botan = crypto::Botan2::KeyShare::from_private(c.group, c.key);
        auto openssl = crypto::OpenSsl3::KeyShare::from_private(c.group, c.key);
        REQUIRE(botan.ok());
        REQUIRE(openssl.ok());
        CHECK(hex(botan->public_key()) == hex(openssl->public_key()));
        // Each agrees with a fresh key of the other provider.
        auto peer = crypto::OpenSsl3::KeyShare::generate(c.group);
        REQUIRE(peer.ok());
        CHECK(hex(botan->agree(peer->public_key()).value()) == hex(peer->agree(openssl->public_key()).value()));
    }
    CHECK(hex(crypto::Botan2::KeyShare::from_private(KeyExchangeGroup::secp256r1, p256)->public_key()) == hex(p256_public));
    // Out of range or the wrong size: refused, never reduced silently.
    const Bytes order = from_hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    for (const auto& bad : {Bytes(32, 0), order, Bytes(32, 0xff), Bytes(31, 1)}) {
        CHECK_FALSE(crypto::Botan2::KeyShare::from_private(KeyExchangeGroup::secp256r1, bad).ok());
        CHECK_FALSE(crypto::OpenSsl3::KeyShare::from_private(KeyExchangeGroup::secp256r1, bad).ok());
    }
    CHECK_FALSE(crypto::OpenSsl3::KeyShare::from_private(KeyExchangeGroup::x25519, Bytes(31, 1)).ok());
}

}  // namespace tls13_rfc8448_replay_test
