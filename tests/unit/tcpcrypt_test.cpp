// tcpcrypt (RFC 8548) and TCP-ENO (RFC 8547): the ENO option codec and negotiation,
// the key schedule and the frame format recomputed independently through OpenSSL's
// libcrypto (HMAC-SHA256, X25519, AES-GCM, ChaCha20-Poly1305 straight from EVP), whole
// exchanges between two engines in memory for every TEP and AEAD, rekeying, resumption,
// the fallback to plain TCP, and table-driven negative cases.
#include "support/providers.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <map>

#include <tapsec/tcpcrypt.hpp>

#include "support/tcpcrypt_pair.hpp"

using namespace tapsec;
using ::test::TcpcryptPair;

namespace tcpcrypt_test {

namespace eno = tcp_eno;

// ---- independent primitives: OpenSSL libcrypto, nothing from tapsec -------------------

Bytes ossl_hmac(ByteView key, ByteView data) {
    unsigned char out[32];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out, &length);
    return Bytes(out, out + length);
}
Bytes ossl_extract(ByteView salt, ByteView ikm) { return ossl_hmac(salt, ikm); }
/// HKDF-Expand with a one-byte info, as tcpcrypt's CPRF uses it.
Bytes ossl_cprf(ByteView key, std::uint8_t constant, std::size_t length) {
    Bytes out, block;
    for (std::uint8_t i = 1; out.size() < length; ++i) {
        Bytes input = block;
        input.push_back(constant);
        input.push_back(i);
        block = ossl_hmac(key, input);
        out.insert(out.end(), block.begin(), block.end());
    }
    out.resize(length);
    return out;
}
const EVP_CIPHER* ossl_cipher(std::uint8_t aead) {
    switch (aead) {
        case tcpcrypt::aead_id::aes_128_gcm: return EVP_aes_128_gcm();
        case tcpcrypt::aead_id::aes_256_gcm: return EVP_aes_256_gcm();
        default: return EVP_chacha20_poly1305();
    }
}
/// AEAD-seals `plaintext`: ciphertext || tag.
Bytes ossl_seal(std::uint8_t aead, ByteView key, ByteView nonce, ByteView ad, ByteView plaintext) {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(ctx, ossl_cipher(aead), nullptr, nullptr, nullptr);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(nonce.size()), nullptr);
    EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data());
    int n = 0;
    EVP_EncryptUpdate(ctx, nullptr, &n, ad.data(), static_cast<int>(ad.size()));
    Bytes out(plaintext.size() + 16);
    EVP_EncryptUpdate(ctx, out.data(), &n, plaintext.data(), static_cast<int>(plaintext.size()));
    int m = 0;
    EVP_EncryptFinal_ex(ctx, out.data() + n, &m);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out.data() + plaintext.size());
    EVP_CIPHER_CTX_free(ctx);
    return out;
}
Bytes ossl_x25519(ByteView private_key, ByteView peer_public) {
    EVP_PKEY* priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.data(), private_key.size());
    EVP_PKEY* peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(), peer_public.size());
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(priv, nullptr);
    EVP_PKEY_derive_init(ctx);
    EVP_PKEY_derive_set_peer(ctx, peer);
    std::size_t length = 32;
    Bytes out(32);
    EVP_PKEY_derive(ctx, out.data(), &length);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(priv);
    return out;
}
Bytes frame_nonce_bytes(std::uint64_t offset) {
    Bytes n{0x44, 0x41, 0x54, 0x41};  // FRAME_NONCE_MAGIC
    for (int i = 7; i >= 0; --i) n.push_back(static_cast<std::uint8_t>(offset >> (8 * i)));
    return n;
}
/// A frame built by hand: length | AEAD(control | data) with the length as associated data.
Bytes ossl_frame(std::uint8_t aead, ByteView key, std::uint64_t offset, std::uint8_t control, ByteView data) {
    const std::size_t length = 1 + data.size() + 16;
    Bytes frame{static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
    Bytes plain{control};
    plain.insert(plain.end(), data.begin(), data.end());
    auto sealed = ossl_seal(aead, key, frame_nonce_bytes(offset), ByteView(frame.data(), 2), plain);
    frame.insert(frame.end(), sealed.begin(), sealed.end());
    return frame;
}

tcpcrypt::Config config_with(std::uint8_t tep, std::uint8_t aead) {
    tcpcrypt::Config c;
    c.teps = {tep};
    c.aeads = {aead};
    return c;
}

/// Splits what one side sent into preamble segments and the rest.
struct Sent {
    std::vector<Bytes> segments;
    Bytes rest;
};
Sent split_preamble(ByteView stream) {
    Sent s;
    for (;;) {
        auto p = eno::preamble::peek(stream);
        REQUIRE(p);
        if (p->kind != eno::preamble::Peek::segment) break;
        s.segments.emplace_back(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(p->size));
        stream = stream.subspan(p->size);
    }
    s.rest.assign(stream.begin(), stream.end());
    return s;
}

bool send_and_deliver(TcpcryptPair& pair, bool from_client, std::string_view text) {
    auto& from = from_client ? pair.client : pair.server;
    if (from.send(as_bytes(text), Clock::now())) return false;
    pair.pump();
    auto& to = from_client ? pair.server : pair.client;
    const Bytes got = TcpcryptPair::drain_plaintext(to);
    return std::string(got.begin(), got.end()) == text;
}


// ---- TCP-ENO -------------------------------------------------------------------------

TEST_CASE("TCP-ENO suboptions encode as RFC 8547 4.1 lays them out") {
    eno::Option o;
    o.global = eno::global_suboption(true, 1);
    o.teps = {{0x21, {}, false}, {0x23, Bytes(9, 0xab), true}};
    const Bytes contents = eno::encode_contents(o);
    // global 000 zz aa b = 0b00000011; 0x21; the last TEP has v=1 and runs to the end.
    Bytes expected{0x03, 0x21, 0xa3};
    expected.insert(expected.end(), 9, 0xab);
    CHECK(contents == expected);
    CHECK(eno::encode_option(contents).front() == 69);
    CHECK(eno::encode_option(contents)[1] == contents.size() + 2);

    // Data on a TEP that is not last needs a length byte 100nnnnn in front of it.
    std::swap(o.teps[0], o.teps[1]);
    const Bytes with_length = eno::encode_contents(o);
    Bytes expected2{0x03, 0x89, 0xa3};
    expected2.insert(expected2.end(), 9, 0xab);
    expected2.push_back(0x21);
    CHECK(with_length == expected2);
    auto parsed = eno::parse_contents(with_length);
    REQUIRE(parsed);
    CHECK(parsed->b());
    CHECK(parsed->aa() == 1);
    REQUIRE(parsed->teps.size() == 2);
    CHECK(parsed->teps[0] == o.teps[0]);
    CHECK(parsed->teps[1] == o.teps[1]);
}

TEST_CASE("TCP-ENO: malformed options, table-driven") {
    struct Case {
        const char* name;
        Bytes contents;
        eno::Error expected;
    };
    const std::vector<Case> cases = {
        {"length byte at the end", {0x21, 0x85}, eno::Error::malformed_option},
        {"length byte before a TEP without v", {0x82, 0x21, 0x00, 0x00}, eno::Error::malformed_option},
        {"length byte before a global suboption", {0x82, 0x01, 0x00, 0x00}, eno::Error::malformed_option},
        {"length running past the option", {0x8a, 0xa1, 0x01, 0x02}, eno::Error::malformed_option},
        {"second global suboption", {0x01, 0x21, 0x00}, eno::Error::malformed_option},
        {"global after a TEP", {0x21, 0x01}, eno::Error::malformed_option},
        {"more than 38 content bytes", Bytes(39, 0x21), eno::Error::oversized_option},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        auto r = eno::parse_contents(c.contents);
        REQUIRE_FALSE(r);
        CHECK(r.error() == make_error_code(c.expected));
        CHECK(r.error() == condition::peer_misbehaved);
    }
}

TEST_CASE("TCP-ENO: the option is found among other TCP options; bad option lists are errors") {
    // MSS, NOP, NOP, ENO{0x21 0x23}, EOL
    const Bytes area{2, 4, 0x05, 0xb4, 1, 1, 69, 4, 0x21, 0x23, 0};
    auto found = eno::find_in_option_area(area);
    REQUIRE(found);
    REQUIRE(*found);
    CHECK(**found == Bytes{0x21, 0x23});
    auto none = eno::find_in_option_area(Bytes{2, 4, 0x05, 0xb4});
    REQUIRE(none);
    CHECK_FALSE(*none);
    CHECK_FALSE(eno::find_in_option_area(Bytes{69, 9, 0x21}));       // length past the area
    CHECK_FALSE(eno::find_in_option_area(Bytes{69, 1}));             // length below 2
    CHECK_FALSE(eno::find_in_option_area(Bytes(41, 1)));             // more than TCP's 40 bytes
}

TEST_CASE("TCP-ENO negotiation: roles, TEP choice, simultaneous open, transcript") {
    const Bytes a{0x21, 0x23};
    const Bytes b{0x23};
    auto at_a = eno::negotiate(a, b, true);
    auto at_b = eno::negotiate(b, a, false);
    REQUIRE(at_a.encrypted);
    REQUIRE(at_b.encrypted);
    CHECK(at_a.role_a);
    CHECK_FALSE(at_b.role_a);
    CHECK(at_a.tep == 0x23);
    CHECK(at_b.tep == 0x23);
    // "TCP-ENO" | len(A) | A's contents | len(B) | B's contents
    const Bytes transcript{'T', 'C', 'P', '-', 'E', 'N', 'O', 0, 2, 0x21, 0x23, 0, 1, 0x23};
    CHECK(at_a.transcript == transcript);
    CHECK(at_b.transcript == transcript);

    // The last TEP of B's that A names wins.
    CHECK(eno::negotiate(Bytes{0x21, 0x23}, Bytes{0x23, 0x21}, true).tep == 0x21);
    // No TEP in common: ENO fails (plain TCP).
    auto none = eno::negotiate(Bytes{0x21}, Bytes{0x23}, true);
    CHECK_FALSE(none.encrypted);
    CHECK(none.failure == make_error_code(eno::Error::no_common_tep));
    // Simultaneous open: the b bit decides; equal b bits fail.
    auto sim_a = eno::negotiate(Bytes{0x00, 0x23}, Bytes{0x01, 0x23}, true, true);
    auto sim_b = eno::negotiate(Bytes{0x01, 0x23}, Bytes{0x00, 0x23}, true, true);
    CHECK(sim_a.encrypted);
    CHECK(sim_a.role_a);
    CHECK_FALSE(sim_b.role_a);
    CHECK(sim_a.transcript == sim_b.transcript);
    auto conflict = eno::negotiate(Bytes{0x01, 0x23}, Bytes{0x01, 0x23}, true, true);
    CHECK_FALSE(conflict.encrypted);
    CHECK(conflict.failure == make_error_code(eno::Error::role_conflict));
}

TEST_CASE("TCP-ENO preamble carrier: segments, plain-TCP detection, malformed segments") {
    Bytes stream;
    REQUIRE_FALSE(eno::preamble::write(stream, eno::preamble::flag_syn, eno::encode_option(Bytes{0x23})));
    CHECK(stream == Bytes{'E', 'N', 'O', 0x02, 3, 69, 3, 0x23});
    auto p = eno::preamble::peek(stream);
    REQUIRE(p);
    CHECK(p->kind == eno::preamble::Peek::segment);
    CHECK(p->size == stream.size());
    CHECK(eno::preamble::peek(ByteView(stream).first(4))->kind == eno::preamble::Peek::need_more);
    CHECK(eno::preamble::peek(as_bytes("GET / HTTP/1.1"))->kind == eno::preamble::Peek::not_preamble);
    CHECK(eno::preamble::peek(as_bytes("EN"))->kind == eno::preamble::Peek::need_more);
    CHECK(eno::preamble::peek(as_bytes("EX"))->kind == eno::preamble::Peek::not_preamble);
    CHECK_FALSE(eno::preamble::peek(Bytes{'E', 'N', 'O', 0x04, 0}));   // not SYN, SYN-ACK or ACK
    CHECK_FALSE(eno::preamble::peek(Bytes{'E', 'N', 'O', 0x02, 41}));  // option area over 40 bytes
    CHECK(eno::preamble::write(stream, eno::preamble::flag_syn, Bytes(41, 1)));
}

// ---- key schedule and frames against OpenSSL -----------------------------------------

TEST_CASE_TEMPLATE("tcpcrypt key schedule equals HKDF-SHA256 computed with OpenSSL's HMAC", Crypto, TAPSEC_TEST_PROVIDERS) {
    using S = tcpcrypt::KeySchedule<Crypto>;
    const ByteView label = as_bytes("TCP-ENO");
    Bytes n_a(32), transcript(label.begin(), label.end()), init1(100, 0x11), init2(90, 0x22), es(32);
    for (std::size_t i = 0; i < 32; ++i) n_a[i] = static_cast<std::uint8_t>(i), es[i] = static_cast<std::uint8_t>(0xf0 ^ i);
    const auto prk = S::prk(n_a, transcript, init1, init2, es);
    Bytes ikm = transcript;
    append(ikm, init1);
    append(ikm, init2);
    append(ikm, es);
    const Bytes expected_prk = ossl_extract(n_a, ikm);
    CHECK(Bytes(prk.begin(), prk.end()) == expected_prk);

    // ss ladder, session ID, master-key ladder and both traffic keys.
    Bytes ss = expected_prk;
    for (int i = 0; i < 3; ++i) {
        CHECK(S::session_id(ss) == ossl_cprf(ss, 0x02, 32));
        const Bytes mk0 = ossl_cprf(ss, 0x03, 32);
        const auto ours_mk0 = S::first_master_key(ss);
        CHECK(Bytes(ours_mk0.begin(), ours_mk0.end()) == mk0);
        const Bytes mk1 = ossl_cprf(mk0, 0x03, 32);
        const auto ours_mk1 = S::next_master_key(mk0);
        CHECK(Bytes(ours_mk1.begin(), ours_mk1.end()) == mk1);
        const auto kab = S::key_ab(mk1, 16);
        const auto kba = S::key_ba(mk1, 32);
        CHECK(Bytes(kab.begin(), kab.end()) == ossl_cprf(mk1, 0x04, 16));
        CHECK(Bytes(kba.begin(), kba.end()) == ossl_cprf(mk1, 0x05, 32));
        const auto ids = S::resume_ids(ss);
        const Bytes resume = ossl_cprf(ss, 0x06, 18);
        CHECK(Bytes(ids.first.begin(), ids.first.end()) == Bytes(resume.begin(), resume.begin() + 9));
        CHECK(Bytes(ids.second.begin(), ids.second.end()) == Bytes(resume.begin() + 9, resume.end()));
        const auto next = S::next_session_secret(ss);
        const Bytes expected_next = ossl_cprf(ss, 0x01, 32);
        CHECK(Bytes(next.begin(), next.end()) == expected_next);
        ss = expected_next;
    }
}

TEST_CASE_TEMPLATE("tcpcrypt frames are byte-exact with a frame sealed by OpenSSL, for each AEAD, across a rekey", Crypto,
                   TAPSEC_TEST_PROVIDERS) {
    for (std::uint8_t aead : {tcpcrypt::aead_id::aes_128_gcm, tcpcrypt::aead_id::aes_256_gcm, tcpcrypt::aead_id::chacha20_poly1305}) {
        CAPTURE(int(aead));
        const std::size_t key_length = aead == tcpcrypt::aead_id::aes_128_gcm ? 16 : 32;
        const Bytes mk0(32, 0x5a);
        TcpcryptRecord::layer<Crypto> a, b;
        REQUIRE_FALSE(a.import({aead, SecretBytes(mk0.begin(), mk0.end()), true}));
        REQUIRE_FALSE(b.import({aead, SecretBytes(mk0.begin(), mk0.end()), false}));
        const Bytes k_ab0 = ossl_cprf(mk0, 0x04, key_length);
        const Bytes mk1 = ossl_cprf(mk0, 0x03, 32);
        const Bytes k_ab1 = ossl_cprf(mk1, 0x04, key_length);

        Bytes out(200);
        auto n1 = a.seal(as_bytes("first"), false, out);
        REQUIRE(n1);
        CHECK(Bytes(out.begin(), out.begin() + *n1) == ossl_frame(aead, k_ab0, 0, 0x00, as_bytes("first")));
        Bytes frame1(out.begin(), out.begin() + *n1);
        auto n2 = a.seal(as_bytes("rekey now"), true, out);  // the last frame under generation 0
        REQUIRE(n2);
        CHECK(Bytes(out.begin(), out.begin() + *n2) == ossl_frame(aead, k_ab0, *n1, 0x01, as_bytes("rekey now")));
        Bytes frame2(out.begin(), out.begin() + *n2);
        auto n3 = a.seal(as_bytes("generation 1"), false, out);
        REQUIRE(n3);
        CHECK(Bytes(out.begin(), out.begin() + *n3) == ossl_frame(aead, k_ab1, *n1 + *n2, 0x00, as_bytes("generation 1")));
        Bytes frame3(out.begin(), out.begin() + *n3);
        CHECK(a.send_generation() == 1);

        auto o1 = b.open(frame1);
        REQUIRE(o1);
        CHECK(std::string(o1->data.begin(), o1->data.end()) == "first");
        auto o2 = b.open(frame2);
        REQUIRE(o2);
        CHECK(o2->rekey());
        CHECK(b.receive_generation() == 1);
        auto o3 = b.open(frame3);
        REQUIRE(o3);
        CHECK(std::string(o3->data.begin(), o3->data.end()) == "generation 1");

        // B -> A uses k_ba; a frame sealed under k_ab is not accepted in that direction.
        Bytes wrong = ossl_frame(aead, k_ab0, 0, 0, as_bytes("x"));
        CHECK(a.open(wrong).error() == make_error_code(tcpcrypt::Error::frame_authentication_failed));
        const Bytes k_ba0 = ossl_cprf(mk0, 0x05, key_length);
        TcpcryptRecord::layer<Crypto> a2;
        REQUIRE_FALSE(a2.import({aead, SecretBytes(mk0.begin(), mk0.end()), true}));
        Bytes reserved = ossl_frame(aead, k_ba0, 0, 0x02, as_bytes("x"));  // a reserved control bit
        CHECK(a2.open(reserved).error() == make_error_code(tcpcrypt::Error::reserved_control_bits));
    }
}

TEST_CASE("a whole Curve25519 exchange recomputed from the wire bytes with OpenSSL") {
    auto c = config_with(eno::tep::tcpcrypt_ecdhe_curve25519, tcpcrypt::aead_id::aes_128_gcm);
    auto s = c;
    c.random = ::test::SeededRandom{1};
    s.random = ::test::SeededRandom{2};
    c.init_padding = 3;  // Init1's "ignored" bytes are part of the transcript too
    TcpcryptPair pair(c, s);
    REQUIRE(pair.start());
    REQUIRE(pair.client.send(as_bytes("hello tcpcrypt"), Clock::now()) == std::error_code{});
    pair.pump();

    // What A drew: its X25519 scalar, then N_A. What B drew: its scalar, then N_B.
    ::test::SeededRandom a_random{1}, b_random{2};
    Bytes a_scalar(32), n_a(32), b_scalar(32), n_b(32);
    a_random(a_scalar);
    a_random(n_a);
    b_random(b_scalar);
    b_random(n_b);

    const Sent from_a = split_preamble(pair.client_to_server);
    const Sent from_b = split_preamble(pair.server_to_client);
    REQUIRE(from_a.segments.size() == 2);  // SYN, ACK
    REQUIRE(from_b.segments.size() == 1);  // SYN-ACK
    CHECK(from_a.segments[1] == Bytes{'E', 'N', 'O', 0x10, 2, 69, 2});  // A's ACK: the empty ENO option
    const Bytes a_contents(from_a.segments[0].begin() + 7, from_a.segments[0].end());
    const Bytes b_contents(from_b.segments[0].begin() + 7, from_b.segments[0].end());
    CHECK(a_contents == Bytes{0x23});
    CHECK(b_contents == Bytes{0x23});

    // Init1 = magic | len | nciphers | ciphers | N_A | PK_A | ignored
    const std::size_t init1_size = 4 + 4 + 1 + 1 + 32 + 32 + 3;
    REQUIRE(from_a.rest.size() > init1_size);
    const Bytes init1(from_a.rest.begin(), from_a.rest.begin() + init1_size);
    CHECK(Bytes(init1.begin(), init1.begin() + 10) == Bytes{0x15, 0x10, 0x1a, 0x0e, 0, 0, 0, init1_size, 1, 0x01});
    CHECK(Bytes(init1.begin() + 10, init1.begin() + 42) == n_a);
    const std::size_t init2_size = 4 + 4 + 1 + 32 + 32;
    const Bytes init2(from_b.rest.begin(), from_b.rest.begin() + init2_size);
    CHECK(Bytes(init2.begin(), init2.begin() + 9) == Bytes{0x09, 0x71, 0x05, 0xe0, 0, 0, 0, init2_size, 0x01});
    CHECK(Bytes(init2.begin() + 9, init2.begin() + 41) == n_b);
    const Bytes pk_b(init2.begin() + 41, init2.end());

    const Bytes es = ossl_x25519(a_scalar, pk_b);
    Bytes ikm{'T', 'C', 'P', '-', 'E', 'N', 'O', 0, 1, 0x23, 0, 1, 0x23};
    append(ikm, init1);
    append(ikm, init2);
    append(ikm, es);
    const Bytes ss0 = ossl_extract(n_a, ikm);
    Bytes expected_sid{0x23};
    append(expected_sid, ossl_cprf(ss0, 0x02, 32));
    CHECK(pair.client.session_id() == expected_sid);
    CHECK(pair.server.session_id() == expected_sid);

    // A's first frame, resealed independently, is what went on the wire.
    const Bytes k_ab = ossl_cprf(ossl_cprf(ss0, 0x03, 32), 0x04, 16);
    const Bytes frame(from_a.rest.begin() + init1_size, from_a.rest.end());
    CHECK(frame == ossl_frame(tcpcrypt::aead_id::aes_128_gcm, k_ab, 0, 0, as_bytes("hello tcpcrypt")));
    const Bytes delivered = TcpcryptPair::drain_plaintext(pair.server);
    CHECK(std::string(delivered.begin(), delivered.end()) == "hello tcpcrypt");
}

// ---- whole exchanges -------------------------------------------------------------------

TEST_CASE("every TEP with every AEAD: same session ID, data both ways, rekeying") {
    for (std::uint8_t tep : {eno::tep::tcpcrypt_ecdhe_p256, eno::tep::tcpcrypt_ecdhe_curve25519}) {
        for (std::uint8_t aead : {tcpcrypt::aead_id::aes_128_gcm, tcpcrypt::aead_id::aes_256_gcm, tcpcrypt::aead_id::chacha20_poly1305}) {
            CAPTURE(int(tep));
            CAPTURE(int(aead));
            TcpcryptPair pair(config_with(tep, aead), config_with(tep, aead));
            REQUIRE(pair.start());
            CHECK(pair.client.is_encrypted());
            CHECK(pair.client.session_id().size() == 33);
            CHECK(pair.client.session_id().front() == tep);
            CHECK(pair.client.session_id() == pair.server.session_id());
            CHECK(pair.client.eno_outcome().role_a);
            CHECK_FALSE(pair.server.eno_outcome().role_a);
            CHECK(pair.client.session_info().cipher_suite == tcpcrypt::aead_name(aead));
            CHECK(send_and_deliver(pair, true, "from A"));
            CHECK(send_and_deliver(pair, false, "from B"));
            REQUIRE_FALSE(pair.client.update_keys(true, Clock::now()));
            pair.pump();
            CHECK(pair.client.record().send_generation() == 1);
            CHECK(pair.server.record().receive_generation() == 1);
            CHECK(pair.server.record().send_generation() == 1);  // B answered with its own rekey
            CHECK(pair.client.record().receive_generation() == 1);
            CHECK(send_and_deliver(pair, true, "after rekey A"));
            CHECK(send_and_deliver(pair, false, "after rekey B"));
        }
    }
}

TEST_CASE("every message split into single bytes: preamble, Init1/Init2, frames, rekey, resumption") {
    auto client_cache = std::make_shared<InMemorySessionCache>();
    tcpcrypt::Config c, s;
    c.session_cache = client_cache;
    c.resumption_peer = "peer";
    s.session_cache = std::make_shared<InMemorySessionCache>();
    for (int i = 0; i < 2; ++i) {
        CAPTURE(i);
        TcpcryptPair pair(c, s);
        pair.byte_at_a_time = true;
        REQUIRE(pair.start());
        CHECK(pair.client.resumed() == (i == 1));
        CHECK(pair.client.session_id() == pair.server.session_id());
        REQUIRE_FALSE(pair.server.update_keys(true, Clock::now()));
        CHECK(send_and_deliver(pair, false, "one byte at a time"));
        CHECK(send_and_deliver(pair, true, "and back"));
        CHECK(pair.client.record().receive_generation() == 1);
    }
}

TEST_CASE("a payload larger than one frame is split and reassembled") {
    TcpcryptPair pair(tcpcrypt::Config{}, tcpcrypt::Config{});
    REQUIRE(pair.start());
    Bytes big(200'000);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
    REQUIRE_FALSE(pair.client.send(big, Clock::now()));
    pair.pump();
    CHECK(TcpcryptPair::drain_plaintext(pair.server) == big);
    CHECK(pair.client_to_server.size() > big.size() + 3 * tcpcrypt::frame_overhead);
}

TEST_CASE("session resumption: the next session secret, both caches, one use per identifier") {
    auto client_cache = std::make_shared<InMemorySessionCache>();
    auto server_cache = std::make_shared<InMemorySessionCache>();
    tcpcrypt::Config c, s;
    c.session_cache = client_cache;
    c.resumption_peer = "server.example";
    s.session_cache = server_cache;

    TcpcryptPair first(c, s);
    REQUIRE(first.start());
    CHECK_FALSE(first.client.resumed());
    CHECK(client_cache->size() == 1);
    CHECK(server_cache->size() == 1);

    TcpcryptPair second(c, s);
    REQUIRE(second.start());
    CHECK(second.client.resumed());
    CHECK(second.server.resumed());
    CHECK(second.client.session_id() == second.server.session_id());
    CHECK(second.client.session_id() != first.client.session_id());
    CHECK(second.client.session_id().front() == first.client.session_id().front());
    // No Init1: SYN (with the 9-byte identifier), ACK, nothing else.
    const Sent sent = split_preamble(second.client_to_server);
    CHECK(sent.rest.empty());
    CHECK(send_and_deliver(second, true, "resumed"));
    CHECK(send_and_deliver(second, false, "resumed too"));
    CHECK(server_cache->size() == 1);  // the used identifier is gone, the next one is there

    TcpcryptPair third(c, s);
    REQUIRE(third.start());
    CHECK(third.client.resumed());
    CHECK(third.client.session_id() != second.client.session_id());
}

TEST_CASE("resumption with an identifier the server does not know falls back to a full exchange") {
    auto client_cache = std::make_shared<InMemorySessionCache>();
    tcpcrypt::Config c, s;
    c.session_cache = client_cache;
    c.resumption_peer = "server.example";
    s.session_cache = std::make_shared<InMemorySessionCache>();
    Bytes bogus{eno::tep::tcpcrypt_ecdhe_curve25519, tcpcrypt::aead_id::aes_128_gcm};
    bogus.resize(2 + 32, 0x77);
    client_cache->store("tcpcrypt-peer:server.example", bogus);

    TcpcryptPair pair(c, s);
    REQUIRE(pair.start());
    CHECK_FALSE(pair.client.resumed());
    CHECK_FALSE(pair.server.resumed());
    CHECK(send_and_deliver(pair, true, "fresh session"));
    // The unknown session was replaced by this connection's next secret.
    auto stored = client_cache->load("tcpcrypt-peer:server.example");
    REQUIRE(stored);
    CHECK(*stored != bogus);
}

TEST_CASE("a server that answers with a resumption identifier it cannot know is caught") {
    auto client_cache = std::make_shared<InMemorySessionCache>();
    tcpcrypt::Config c;
    c.session_cache = client_cache;
    c.resumption_peer = "p";
    Bytes entry{eno::tep::tcpcrypt_ecdhe_curve25519, tcpcrypt::aead_id::aes_128_gcm};
    entry.resize(34, 0x42);
    client_cache->store("tcpcrypt-peer:p", entry);
    ::test::TcpcryptEngine client(Role::client, c);
    REQUIRE_FALSE(client.start(Clock::now()));
    Bytes syn_ack;
    eno::Option o;
    o.teps = {{eno::tep::tcpcrypt_ecdhe_curve25519, Bytes(9, 0x00), true}};  // a guess at B's identifier
    REQUIRE_FALSE(eno::preamble::write(syn_ack, eno::preamble::flag_syn_ack, eno::encode_option(eno::encode_contents(o))));
    CHECK(client.receive(syn_ack, {}, Clock::now()) == make_error_code(tcpcrypt::Error::bad_resumption_identifier));
}

// ---- fallback to plain TCP: reported, never silent ------------------------------------

TEST_CASE("a peer without TCP-ENO: the handshake fails unless plain TCP is allowed, and then it says so") {
    tcpcrypt::Config no_eno;
    no_eno.enable_eno = false;
    no_eno.allow_plain_fallback = true;
    {
        TcpcryptPair pair(tcpcrypt::Config{}, no_eno);
        pair.client_error = pair.client.start(Clock::now());
        pair.pump();
        CHECK(pair.client_error == make_error_code(tcpcrypt::Error::eno_not_negotiated));
        CHECK(pair.client_error == condition::peer_incompatible);
        CHECK_FALSE(pair.client.is_established());
    }
    {
        tcpcrypt::Config allow;
        allow.allow_plain_fallback = true;
        TcpcryptPair pair(allow, no_eno);
        REQUIRE(pair.start());
        CHECK_FALSE(pair.client.is_encrypted());
        CHECK_FALSE(pair.server.is_encrypted());
        CHECK(pair.client.eno_failure() == make_error_code(eno::Error::no_common_tep));
        CHECK(pair.client.session_info().protocol.find("NOT encrypted") != std::string::npos);
        CHECK(pair.client.session_id().empty());
        CHECK(send_and_deliver(pair, true, "in the clear"));
        CHECK(send_and_deliver(pair, false, "in the clear too"));
    }
}

TEST_CASE("a plain TCP client (no preamble at all) reaches a server that allows plain TCP") {
    tcpcrypt::Config allow;
    allow.allow_plain_fallback = true;
    ::test::TcpcryptEngine server(Role::server, allow);
    REQUIRE_FALSE(server.receive(as_bytes("GET / HTTP/1.0\r\n"), {}, Clock::now()));
    REQUIRE(server.is_established());
    CHECK_FALSE(server.is_encrypted());
    auto v = server.poll_plaintext();
    REQUIRE(v);
    CHECK(std::string(v->begin(), v->end()) == "GET / HTTP/1.0\r\n");

    ::test::TcpcryptEngine strict(Role::server, tcpcrypt::Config{});
    CHECK(strict.receive(as_bytes("GET /"), {}, Clock::now()) == make_error_code(tcpcrypt::Error::eno_not_negotiated));
}

// ---- negative tables -------------------------------------------------------------------

TEST_CASE("frames: tampered, replayed, reordered, dropped, truncated, malformed, table-driven") {
    struct Case {
        const char* name;
        std::function<void(std::vector<Bytes>& frames)> attack;  // on A's two frames
        bool end_of_stream = false;
        std::error_code expected;
    };
    const std::vector<Case> cases = {
        {"tampered ciphertext", [](auto& f) { f[0][5] ^= 0x01; }, false, make_error_code(tcpcrypt::Error::frame_authentication_failed)},
        {"tampered tag", [](auto& f) { f[0].back() ^= 0x80; }, false, make_error_code(tcpcrypt::Error::frame_authentication_failed)},
        {"tampered length (associated data)", [](auto& f) { f[0][1] ^= 0x01; f[0].push_back(0); }, false,
         make_error_code(tcpcrypt::Error::frame_authentication_failed)},
        {"replayed frame", [](auto& f) { f[1] = f[0]; }, false, make_error_code(tcpcrypt::Error::frame_authentication_failed)},
        {"reordered frames", [](auto& f) { std::swap(f[0], f[1]); }, false, make_error_code(tcpcrypt::Error::frame_authentication_failed)},
        {"dropped frame", [](auto& f) { f.erase(f.begin()); }, false, make_error_code(tcpcrypt::Error::frame_authentication_failed)},
        {"truncated frame then end of stream", [](auto& f) { f[1].resize(f[1].size() - 3); }, true,
         make_error_code(tcpcrypt::Error::truncated_stream)},
        {"length too small for control and tag", [](auto& f) { f[0] = Bytes{0x00, 0x10}; }, false,
         make_error_code(tcpcrypt::Error::malformed_frame)},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        TcpcryptPair pair(tcpcrypt::Config{}, tcpcrypt::Config{});
        REQUIRE(pair.start());
        std::vector<Bytes> frames;
        Bytes buffer(max_transmit_size);
        for (const char* text : {"message one", "message two"}) {
            REQUIRE_FALSE(pair.client.send(as_bytes(text), Clock::now()));
            auto t = pair.client.poll_transmit(MutableByteView(buffer));
            REQUIRE(t);
            frames.emplace_back(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(t->size));
        }
        c.attack(frames);
        std::error_code ec;
        for (auto& f : frames)
            if (!ec) ec = pair.server.receive(f, {}, Clock::now());
        if (!ec && c.end_of_stream) ec = pair.server.receive({}, {}, Clock::now());
        CHECK(ec == c.expected);
        // Nothing unauthenticated reached the application.
        auto delivered = TcpcryptPair::drain_plaintext(pair.server);
        std::string text(delivered.begin(), delivered.end());
        CHECK((text.empty() || text == "message one"));
    }
}

TEST_CASE("malformed Init1 and Init2, table-driven") {
    // Init1 for Curve25519 (PK 32 bytes) offering AES-128-GCM.
    auto init1 = [](std::uint32_t length, std::uint8_t nciphers, std::size_t body) {
        Bytes m{0x15, 0x10, 0x1a, 0x0e};
        wire::Writer w(m);
        w.u32(length);
        w.u8(nciphers);
        m.resize(m.size() + body, 0x01);
        return m;
    };
    struct Case {
        std::string name;
        Bytes message;
        std::error_code expected;
    };
    const std::vector<Case> init1_cases = {
        {"wrong magic", Bytes{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 74}, make_error_code(tcpcrypt::Error::bad_magic)},
        {"message_len below the fixed fields", init1(8, 1, 0), make_error_code(tcpcrypt::Error::malformed_init1)},
        {"message_len beyond the limit", init1(1'000'000, 1, 0), make_error_code(tcpcrypt::Error::init_too_large)},
        {"no ciphers", init1(9 + 64, 0, 64), make_error_code(tcpcrypt::Error::malformed_init1)},
        {"shorter than N_A and PK_A", init1(9 + 41, 1, 41), make_error_code(tcpcrypt::Error::malformed_init1)},
        {"no AEAD in common", init1(9 + 1 + 64, 1, 65), make_error_code(tcpcrypt::Error::no_common_aead)},
    };
    for (const auto& c : init1_cases) {
        CAPTURE(c.name);
        Bytes message = c.message;
        if (c.name == "no AEAD in common") message[9] = 0x7e;  // an unregistered AEAD
        // Drive a server through SYN and ACK, then feed the bad Init1.
        ::test::TcpcryptEngine client(Role::client, tcpcrypt::Config{});
        ::test::TcpcryptEngine server(Role::server, tcpcrypt::Config{});
        REQUIRE_FALSE(client.start(Clock::now()));
        Bytes buffer(max_transmit_size);
        auto syn = client.poll_transmit(MutableByteView(buffer));
        REQUIRE(syn);
        REQUIRE_FALSE(server.receive(ByteView(buffer.data(), syn->size), {}, Clock::now()));
        Bytes ack;
        REQUIRE_FALSE(eno::preamble::write(ack, eno::preamble::flag_ack, eno::encode_option({})));
        REQUIRE_FALSE(server.receive(ack, {}, Clock::now()));
        CHECK(server.receive(message, {}, Clock::now()) == c.expected);
        CHECK_FALSE(server.is_established());
    }

    // Init2 cases: a real client, a crafted server reply.
    auto init2 = [](std::uint32_t length, std::uint8_t cipher, std::size_t body) {
        Bytes m{0x09, 0x71, 0x05, 0xe0};
        wire::Writer w(m);
        w.u32(length);
        w.u8(cipher);
        m.resize(m.size() + body, 0x09);
        return m;
    };
    const std::vector<Case> init2_cases = {
        {"wrong magic", Bytes{0x15, 0x10, 0x1a, 0x0e, 0, 0, 0, 73}, make_error_code(tcpcrypt::Error::bad_magic)},
        {"AEAD not offered", init2(73, tcpcrypt::aead_id::chacha20_poly1305, 64), make_error_code(tcpcrypt::Error::aead_not_offered)},
        {"shorter than N_B and PK_B", init2(9 + 50, tcpcrypt::aead_id::aes_128_gcm, 50), make_error_code(tcpcrypt::Error::malformed_init2)},
        {"low-order X25519 point", init2(73, tcpcrypt::aead_id::aes_128_gcm, 64), make_error_code(tcpcrypt::Error::bad_public_key)},
    };
    for (const auto& c : init2_cases) {
        CAPTURE(c.name);
        tcpcrypt::Config cc;
        cc.aeads = {tcpcrypt::aead_id::aes_128_gcm};
        cc.teps = {eno::tep::tcpcrypt_ecdhe_curve25519};
        ::test::TcpcryptEngine client(Role::client, cc);
        REQUIRE_FALSE(client.start(Clock::now()));
        Bytes reply;
        REQUIRE_FALSE(eno::preamble::write(reply, eno::preamble::flag_syn_ack, eno::encode_option(Bytes{0x23})));
        Bytes message = c.message;
        if (c.name == "low-order X25519 point") std::fill(message.end() - 32, message.end(), 0);  // u = 0
        append(reply, message);
        CHECK(client.receive(reply, {}, Clock::now()) == c.expected);
        CHECK_FALSE(client.is_established());
    }
}

TEST_CASE("TCP-ENO downgrade attempts are caught, table-driven") {
    struct Case {
        const char* name;
        std::function<void(bool from_client, Bytes& chunk)> attack;
        bool client_allows_plain;
        // Expectation: either an error at one side, or a failed first frame.
        std::error_code client_error, server_error;
        bool first_frame_fails = false;
    };
    const std::vector<Case> cases = {
        {"SYN rewritten to drop the preferred TEP (transcript differs)",
         [](bool from_client, Bytes& chunk) {
             // A's SYN lists 0x23 0x21; leave only P-256 (0x21), as a downgrading middlebox would.
             if (from_client && chunk.size() >= 9 && chunk[0] == 'E' && chunk[3] == eno::preamble::flag_syn) {
                 chunk = Bytes{'E', 'N', 'O', eno::preamble::flag_syn, 3, 69, 3, 0x21};
             }
         },
         false, {}, {}, true},
        {"ENO option stripped from the SYN-ACK",
         [](bool from_client, Bytes& chunk) {
             if (!from_client && chunk.size() >= 5 && chunk[0] == 'E' && chunk[3] == eno::preamble::flag_syn_ack)
                 chunk = Bytes{'E', 'N', 'O', eno::preamble::flag_syn_ack, 0};
         },
         false, make_error_code(tcpcrypt::Error::eno_not_negotiated), {}, false},
        {"ENO option stripped from A's ACK",
         [](bool from_client, Bytes& chunk) {
             if (from_client && chunk.size() >= 5 && chunk[0] == 'E' && chunk[3] == eno::preamble::flag_ack) {
                 Bytes rest(chunk.begin() + 7, chunk.end());
                 chunk = Bytes{'E', 'N', 'O', eno::preamble::flag_ack, 0};
                 append(chunk, rest);
             }
         },
         false, {}, make_error_code(tcpcrypt::Error::eno_not_negotiated), false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        tcpcrypt::Config cc, sc;
        cc.teps = {eno::tep::tcpcrypt_ecdhe_curve25519, eno::tep::tcpcrypt_ecdhe_p256};
        sc.teps = {eno::tep::tcpcrypt_ecdhe_curve25519, eno::tep::tcpcrypt_ecdhe_p256};
        cc.allow_plain_fallback = c.client_allows_plain;
        TcpcryptPair pair(cc, sc);
        pair.on_wire = c.attack;
        pair.client_error = pair.client.start(Clock::now());
        pair.pump();
        if (c.client_error) CHECK(pair.client_error == c.client_error);
        if (c.server_error) CHECK(pair.server_error == c.server_error);
        if (c.first_frame_fails) {
            REQUIRE(pair.client.is_established());
            REQUIRE(pair.server.is_established());
            CHECK(pair.server.eno_outcome().tep == eno::tep::tcpcrypt_ecdhe_p256);  // the downgrade "worked"...
            REQUIRE_FALSE(pair.client.send(as_bytes("secret"), Clock::now()));
            pair.pump();
            // ...but the transcripts differ, so the keys do: the first frame is refused.
            CHECK(pair.server_error == make_error_code(tcpcrypt::Error::frame_authentication_failed));
            CHECK(TcpcryptPair::drain_plaintext(pair.server).empty());
        }
    }
}

TEST_CASE("application-aware bits travel in the global suboption and are reported to the peer") {
    tcpcrypt::Config c, s;
    c.application_aware = 1;
    TcpcryptPair pair(c, s);
    REQUIRE(pair.start());
    CHECK(pair.server.eno_outcome().peer_aa == 1);
    CHECK(pair.client.eno_outcome().peer_aa == 0);
    const Sent sent = split_preamble(pair.client_to_server);
    REQUIRE_FALSE(sent.segments.empty());
    CHECK(sent.segments[0][7] == 0x02);  // global suboption 000 zz aa=01 b=0, first in A's option
}

TEST_CASE("oversized input is bounded: preamble option area, Init length, ENO option") {
    ::test::TcpcryptEngine server(Role::server, tcpcrypt::Config{});
    CHECK(server.receive(Bytes{'E', 'N', 'O', eno::preamble::flag_syn, 200}, {}, Clock::now()) ==
          make_error_code(eno::Error::oversized_option));
}

TEST_CASE("authentication delegation: the application sees the session ID and may refuse it") {
    std::string seen;
    tcpcrypt::Config c;
    c.validate_peer = [&](const PeerIdentity& p) {
        seen = p.subject;
        return std::error_code{};
    };
    TcpcryptPair pair(c, tcpcrypt::Config{});
    REQUIRE(pair.start());
    CHECK(seen == "tcpcrypt session ID " + to_hex(pair.client.session_id()));

    tcpcrypt::Config refuse;
    refuse.validate_peer = [](const PeerIdentity&) { return make_error_code(Errc::peer_rejected_by_application); };
    TcpcryptPair refused(refuse, tcpcrypt::Config{});
    CHECK_FALSE(refused.start());
    CHECK(refused.client_error == condition::peer_not_trusted);
}

TEST_CASE("every tcpcrypt and TCP-ENO error maps to a tapsec::condition") {
    for (int v = 1; v <= static_cast<int>(tcpcrypt::Error::invalid_configuration); ++v) {
        const auto ec = make_error_code(static_cast<tcpcrypt::Error>(v));
        CAPTURE(ec.message());
        CHECK(ec.message() != "unknown tcpcrypt error");
        CHECK(ec.default_error_condition().category() == condition_category());
    }
    for (int v = 1; v <= static_cast<int>(eno::Error::unexpected_tep_data); ++v) {
        const auto ec = make_error_code(static_cast<eno::Error>(v));
        CHECK(ec.message() != "unknown TCP-ENO error");
        CHECK(ec.default_error_condition().category() == condition_category());
    }
}

TEST_CASE("the composition: TcpEno carries it, plain Tcp does not") {
    using Composition = Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno>;
    static_assert(Composable<TcpcryptHandshake, TcpcryptRecord, TcpEno, crypto::Botan2>);
    static_assert(!Composable<TcpcryptHandshake, TcpcryptRecord, Tcp, crypto::Botan2>);
    static_assert(CallerBufferEngine<Composition::Engine> && ViewReceiveEngine<Composition::Engine>);
    static_assert(Composition::has<feature::AD>);
    static_assert(Composition::has<feature::SC>);
    static_assert(Composition::has<feature::SV>);
    static_assert(!Composition::has<feature::MA>);
    CHECK(Composition::features.availability<feature::AD>() == Availability::mandatory);
}

}  // namespace tcpcrypt_test
