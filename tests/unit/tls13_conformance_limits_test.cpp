// TLS 1.3 conformance, issue 9 items 5 and 6: handshake messages as large as RFC 8446
// allows up to a configurable ceiling (4: the length is 24 bits; a ClientHello near
// 65.5 KB is valid), refused with decode_error beyond it before the body is buffered;
// and supported_groups in EncryptedExtensions when the group used is not the server's
// favourite (4.2.7).
#include <doctest/doctest.h>

#include <future>

#include <tapsec/tapsec.hpp>
#include <tapsec/transport/memory.hpp>

#include "support/pki.hpp"

using namespace tapsec;
using namespace tapsec::tls13;
using Crypto = crypto::DefaultProvider;
using ServerEngine = tls13::Engine<AeadRecord, Crypto>;
using Tls = Secure<Tls13Handshake, AeadRecord, MemoryStream>;

namespace tls13_conformance_limits_test {

struct Identities {
    test::TestPki pki;
    test::CertificateFiles leaf;
    Identities() {
        REQUIRE(pki.ok());
        leaf = pki.issue("limits", test::KeyType::ed25519);
        REQUIRE(!leaf.certificate.empty());
    }
    Config client() const {
        Config c;
        c.trust.ca_certificates_pem = {pki.ca().certificate_pem()};
        c.server_name = "localhost";
        return c;
    }
    Config server() const {
        Config s;
        s.identity = Identity(leaf.certificate_pem(), leaf.key_pem());
        return s;
    }
};

/// The ClientHello a client made from `config` (the message, header included).
Bytes client_hello_of(const Config& config) {
    ClientHandshake<Crypto> client(config);
    REQUIRE_FALSE(client.start({}));
    while (auto a = client.poll_action())
        if (a->kind == Action::Kind::send) return a->message;
    FAIL("the client sent no ClientHello");
    return {};
}

/// `hello` with its signature_algorithms list grown (our schemes first, then unassigned
/// code points) until the message body is `body_size` bytes: the case of issue 9.
Bytes with_long_signature_algorithms(const Bytes& hello, std::size_t body_size) {
    auto ch = decode_client_hello(ByteView(hello).subspan(4));
    REQUIRE(ch.ok());
    const std::size_t now = hello.size() - 4;
    REQUIRE(body_size > now);
    REQUIRE((body_size - now) % 2 == 0);
    for (std::size_t i = 0; i < (body_size - now) / 2; ++i)
        ch->signature_algorithms.push_back(static_cast<std::uint16_t>(0x0a00 + i));
    Bytes big = encode(*ch);
    REQUIRE(big.size() == body_size + 4);
    return big;
}

/// `message` cut into plaintext handshake records of `fragment` bytes (the first with
/// legacy_record_version 0x0301, as a client's first record may have).
Bytes as_records(const Bytes& message, std::size_t fragment) {
    Bytes out;
    for (std::size_t at = 0; at < message.size(); at += fragment) {
        const std::size_t n = std::min(fragment, message.size() - at);
        out.push_back(0x16);
        out.push_back(0x03);
        out.push_back(at == 0 ? 0x01 : 0x03);
        out.push_back(static_cast<std::uint8_t>(n >> 8));
        out.push_back(static_cast<std::uint8_t>(n));
        out.insert(out.end(), message.begin() + static_cast<std::ptrdiff_t>(at),
                   message.begin() + static_cast<std::ptrdiff_t>(at + n));
    }
    return out;
}

Bytes drain(ServerEngine& engine) {
    Bytes out;
    while (auto t = engine.poll_transmit()) append(out, t->data);
    return out;
}

/// The plaintext alert a failed server sent (its first record, before any key).
std::optional<AlertDescription> plaintext_alert(const Bytes& wire) {
    if (wire.size() != 7 || wire[0] != 0x15) return std::nullopt;
    return static_cast<AlertDescription>(wire[6]);
}


TEST_CASE("TLS 1.3 size limits: a 65.6 KB ClientHello (long signature_algorithms) in 1000-byte records is accepted") {
    Identities ids;
    const Bytes hello = with_long_signature_algorithms(client_hello_of(ids.client()), 65600);
    REQUIRE(hello.size() > 64 * 1024 + 4);  // what the old 64 KiB bound refused
    const Bytes records = as_records(hello, 1000);
    ServerEngine server(Role::server, ids.server());
    // Fed a record at a time: no error on the way, and the answer is a ServerHello.
    for (std::size_t at = 0; at < records.size(); at += 1005) {
        const std::size_t n = std::min<std::size_t>(1005, records.size() - at);
        REQUIRE_FALSE(server.receive(ByteView(records).subspan(at, n), Endpoint{}, Instant{}));
    }
    const Bytes answer = drain(server);
    REQUIRE(answer.size() > 6);
    CHECK(answer[0] == 0x16);
    CHECK(answer[5] == static_cast<std::uint8_t>(HandshakeType::server_hello));
}

TEST_CASE("TLS 1.3 size limits: a whole handshake with a 65.6 KB ClientHello, end to end") {
    // The client's ClientHello is filled to the 2^16-1 extension block with a custom
    // extension both ends are configured for; the server echoes a small value of it.
    Identities ids;
    Config client = ids.client(), server = ids.server();
    const std::uint16_t filler = 0xff42;
    const Bytes plain = client_hello_of(client);
    auto decoded = decode_client_hello(ByteView(plain).subspan(4));
    REQUIRE(decoded.ok());
    std::size_t block = 0;
    for (const auto& x : decoded->extensions) block += 4 + x.data.size();
    client.custom_extensions = {{filler, Bytes(0xffff - block - 4, 0x5a)}};
    server.custom_extensions = {{filler, Bytes{1}}};
    std::size_t seen_at_server = 0;
    server.on_custom_extension = [&](std::uint16_t type, ByteView value) {
        if (type == filler) seen_at_server = value.size();
        return std::error_code{};
    };
    client.on_custom_extension = [](std::uint16_t, ByteView) { return std::error_code{}; };
    REQUIRE(client_hello_of(client).size() > 65536 + 4);

    auto [a, b] = MemoryStream::pair();
    Tls c(Role::client, client, std::move(a));
    Tls s(Role::server, server, std::move(b));
    auto server_done = std::async(std::launch::async, [&] { return s.handshake(); });
    auto ce = c.handshake();
    auto se = server_done.get();
    REQUIRE_MESSAGE(!ce, ce.message());
    REQUIRE_MESSAGE(!se, se.message());
    CHECK(seen_at_server == 0xffff - block - 4);
    REQUIRE_FALSE(c.send(as_bytes("after a big hello")));
    auto got = s.receive_message(std::chrono::seconds(5));
    REQUIRE(got.ok());
    CHECK(std::string(got->begin(), got->end()) == "after a big hello");
}

TEST_CASE("TLS 1.3 size limits: beyond the ceiling, decode_error as soon as the header arrives") {
    Identities ids;
    SUBCASE("default ceiling: one byte more than the largest encodable ClientHello") {
        Config server = ids.server();
        CHECK(server.max_handshake_message_size == largest_client_hello);
        ServerEngine engine(Role::server, server);
        // Only the 4-byte handshake header, in a record of its own: nothing more is awaited.
        const std::size_t length = largest_client_hello + 1;
        const Bytes header = {0x01, static_cast<std::uint8_t>(length >> 16), static_cast<std::uint8_t>(length >> 8),
                              static_cast<std::uint8_t>(length)};
        auto ec = engine.receive(as_records(header, 4), Endpoint{}, Instant{});
        CHECK(ec == make_error_code(Error::handshake_message_too_large));
        CHECK(plaintext_alert(drain(engine)) == AlertDescription::decode_error);
    }
    SUBCASE("a configured ceiling of 32 KiB refuses the 65.6 KB ClientHello at its first record") {
        Config server = ids.server();
        server.max_handshake_message_size = 32 * 1024;
        ServerEngine engine(Role::server, server);
        const Bytes hello = with_long_signature_algorithms(client_hello_of(ids.client()), 65600);
        const Bytes records = as_records(hello, 1000);
        auto ec = engine.receive(ByteView(records).first(1005), Endpoint{}, Instant{});
        CHECK(ec == make_error_code(Error::handshake_message_too_large));
        CHECK(plaintext_alert(drain(engine)) == AlertDescription::decode_error);
    }
    SUBCASE("the same ClientHello fits a ceiling raised to the 24-bit maximum") {
        Config server = ids.server();
        server.max_handshake_message_size = std::size_t{1} << 30;  // clamped to 2^24-1
        ServerEngine engine(Role::server, server);
        const Bytes hello = with_long_signature_algorithms(client_hello_of(ids.client()), 65600);
        REQUIRE_FALSE(engine.receive(as_records(hello, 16384), Endpoint{}, Instant{}));
        const Bytes answer = drain(engine);
        REQUIRE(answer.size() > 6);
        CHECK(answer[5] == static_cast<std::uint8_t>(HandshakeType::server_hello));
    }
}

TEST_CASE("TLS 1.3 size limits: MessageBuffer holds no more than the ceiling and one record") {
    MessageBuffer buffer(1000);
    CHECK(buffer.ceiling() == 1000);
    CHECK(MessageBuffer(std::size_t{1} << 40).ceiling() == largest_handshake_message);
    // A declared 1000-byte message arriving in pieces is cut whole.
    Bytes message = {0x0b, 0x00, 0x03, 0xe8};
    message.resize(4 + 1000, 0x77);
    buffer.add(ByteView(message).first(600));
    auto none = buffer.next();
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
    buffer.add(ByteView(message).subspan(600));
    auto whole = buffer.next();
    REQUIRE(whole.ok());
    REQUIRE(whole->has_value());
    CHECK((*whole)->bytes.size() == 1004);
    CHECK(buffer.buffered() == 0);
    // 1001 declared: refused from the header alone.
    buffer.add(Bytes{0x0b, 0x00, 0x03, 0xe9});
    CHECK(buffer.next().error() == make_error_code(Error::handshake_message_too_large));
}


/// Runs both handshake state machines message by message and returns the decoded
/// EncryptedExtensions the server sent, with both ends' errors.
struct GroupsRun {
    std::optional<EncryptedExtensions> encrypted_extensions;
    std::error_code client, server;
    std::string group;
    bool retried = false;
};

GroupsRun run_with_groups(Config client_config, Config server_config) {
    ClientHandshake<Crypto> client(client_config);
    ServerHandshake<Crypto> server(server_config);
    GroupsRun out;
    REQUIRE_FALSE(server.start());
    REQUIRE_FALSE(client.start({}));
    for (int round = 0; round < 20; ++round) {
        bool moved = false;
        for (bool from_server : {false, true}) {
            HandshakeCommon<Crypto>& sender = from_server ? static_cast<HandshakeCommon<Crypto>&>(server)
                                                          : static_cast<HandshakeCommon<Crypto>&>(client);
            while (auto a = sender.poll_action()) {
                if (a->kind == Action::Kind::event && a->event.kind == EventKind::handshake_complete && from_server == false)
                    out.retried = a->event.reason == make_error_code(Error::completed_after_hello_retry);
                if (a->kind != Action::Kind::send) continue;
                moved = true;
                MessageBuffer buffer;
                buffer.add(a->message);
                auto raw = buffer.next();
                REQUIRE(raw.ok());
                REQUIRE(raw->has_value());
                if ((*raw)->type == HandshakeType::encrypted_extensions) {
                    auto ee = decode_encrypted_extensions((*raw)->body());
                    REQUIRE(ee.ok());
                    out.encrypted_extensions = *ee;
                }
                auto ec = from_server ? client.handle(**raw) : server.handle(**raw);
                if (ec) {
                    (from_server ? out.client : out.server) = ec;
                    return out;
                }
            }
        }
        if (!moved) break;
    }
    out.group = client.info().group;
    return out;
}


TEST_CASE("TLS 1.3 supported_groups in EncryptedExtensions when the client's share is not our favourite (4.2.7)") {
    Identities ids;
    SUBCASE("server prefers P-256, client offers only X25519: all our groups, in our order") {
        Config client = ids.client(), server = ids.server();
        client.groups = {"x25519"};
        server.groups = {"secp256r1", "x25519"};
        auto run = run_with_groups(client, server);
        REQUIRE_FALSE(run.client);
        REQUIRE_FALSE(run.server);
        CHECK(run.group == "x25519");
        REQUIRE(run.encrypted_extensions);
        CHECK(run.encrypted_extensions->supported_groups == std::vector<std::uint16_t>{group::secp256r1, group::x25519});
    }
    SUBCASE("the client's share is our favourite: nothing to say") {
        Config client = ids.client(), server = ids.server();
        client.groups = {"x25519"};
        server.groups = {"x25519", "secp256r1"};
        auto run = run_with_groups(client, server);
        REQUIRE_FALSE(run.client);
        REQUIRE_FALSE(run.server);
        REQUIRE(run.encrypted_extensions);
        CHECK(run.encrypted_extensions->supported_groups.empty());
    }
    SUBCASE("after a HelloRetryRequest for our favourite: nothing to say") {
        Config client = ids.client(), server = ids.server();
        client.groups = {"x25519", "secp256r1"};
        server.groups = {"secp256r1", "x25519"};
        auto run = run_with_groups(client, server);
        REQUIRE_FALSE(run.client);
        REQUIRE_FALSE(run.server);
        CHECK(run.retried);
        CHECK(run.group == "secp256r1");
        REQUIRE(run.encrypted_extensions);
        CHECK(run.encrypted_extensions->supported_groups.empty());
    }
    SUBCASE("a malformed supported_groups in EncryptedExtensions is decode_error") {
        EncryptedExtensions ee;
        ee.supported_groups = {group::x25519};
        const Bytes good = encode(ee);
        auto decoded = decode_encrypted_extensions(ByteView(good).subspan(4));
        REQUIRE(decoded.ok());
        CHECK(decoded->supported_groups == std::vector<std::uint16_t>{group::x25519});
        // body: extensions length, then type 10, length 4, list length 2, 0x001d
        const Bytes odd = {0x00, 0x07, 0x00, 0x0a, 0x00, 0x03, 0x00, 0x01, 0x1d};
        const Bytes empty = {0x00, 0x06, 0x00, 0x0a, 0x00, 0x02, 0x00, 0x00};
        for (const Bytes& body : {odd, empty})
            CHECK(decode_encrypted_extensions(body).error() == make_error_code(Error::malformed_handshake_message));
    }
}

}  // namespace tls13_conformance_limits_test
