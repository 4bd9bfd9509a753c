// TLS 1.3 record layer (RFC 8446 5, RFC 8449): round trips, padding, limits and every
// negative case the record layer must reject with a distinct error: tampered,
// reordered, replayed, truncated, oversized, bad content type, all-zero plaintext,
// record_size_limit, malformed headers, key-usage limits.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>

#include <tapsec/crypto/botan.hpp>
#include <tapsec/tls13/record.hpp>

using namespace tapsec;
using namespace tapsec::tls13;

namespace tls13_record_test {

using Crypto = crypto::DefaultProvider;

TrafficSecret secret_for(const CipherSuite& suite, std::uint8_t fill = 0x42) {
    return {&suite, SecretBytes(suite.hash_length, fill)};
}

/// A writer and a reader keyed with the same secret (one direction of a connection).
struct Pipe {
    RecordLayer<> writer, reader;
    explicit Pipe(const CipherSuite& suite = TLS_AES_128_GCM_SHA256, RecordLayer<>::Options options = {})
        : writer(options), reader(options) {
        REQUIRE_FALSE(writer.install_write(secret_for(suite)));
        REQUIRE_FALSE(reader.install_read(secret_for(suite)));
    }
    Bytes seal(ContentType type, ByteView data) {
        Bytes wire;
        REQUIRE_FALSE(writer.write(type, data, wire));
        return wire;
    }
};

/// What the reader makes of `wire`: the first record's content, or the error.
Result<Bytes> read_one(RecordLayer<>& reader, ByteView wire, ContentType* type = nullptr) {
    if (auto ec = reader.feed(wire)) return ec;
    auto r = reader.next();
    if (!r) return r.error();
    if (!*r) return Errc::truncated;  // incomplete
    if (type) *type = (*r)->type;
    return Bytes((*r)->data.begin(), (*r)->data.end());
}

/// A record sealed with the raw AEAD and the suite's traffic keys: lets a test put
/// anything in TLSInnerPlaintext (no content type, oversized, unknown type).
Bytes craft_record(const CipherSuite& suite, std::uint64_t seq, Bytes inner, std::uint8_t outer_type = 23) {
    const auto keys = traffic_keys<Crypto>(secret_for(suite));
    auto aead = Crypto::Aead::create(suite.aead, keys.key);
    REQUIRE(aead.ok());
    std::array<std::uint8_t, 12> nonce{};
    std::copy(keys.iv.begin(), keys.iv.end(), nonce.begin());
    for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<std::uint8_t>(seq >> (8 * i));
    const std::size_t length = inner.size() + 16;
    Bytes record{outer_type, 0x03, 0x03, static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
    const Bytes header = record;
    aead->seal(nonce, header, inner);
    append(record, inner);
    return record;
}

std::error_code error_of(Error e) { return make_error_code(e); }


TEST_CASE("tls13 record: round trip for every suite, record and ciphertext sizes") {
    for (const CipherSuite* suite : all_cipher_suites) {
        CAPTURE(suite->name);
        Pipe p(*suite);
        const Bytes message(1000, 0xab);
        const Bytes wire = p.seal(ContentType::application_data, message);
        CHECK(wire.size() == 5 + 1000 + 1 + 16);
        CHECK(wire[0] == 23);  // opaque_type is always application_data
        CHECK(wire[1] == 3);
        CHECK(wire[2] == 3);
        ContentType type{};
        auto got = read_one(p.reader, wire, &type);
        REQUIRE(got.ok());
        CHECK(type == ContentType::application_data);
        CHECK(*got == message);
        // Handshake and alert content types travel inside the encryption.
        const Bytes alert = encode_alert(AlertDescription::close_notify);
        got = read_one(p.reader, p.seal(ContentType::alert, alert), &type);
        REQUIRE(got.ok());
        CHECK(type == ContentType::alert);
        CHECK(*got == alert);
        CHECK(p.writer.write_state()->sequence() == 2);
        CHECK(p.reader.read_state()->sequence() == 2);
    }
}

TEST_CASE("tls13 record: large writes are split at 2^14 and reassembled from any chunking") {
    Pipe p;
    Bytes message(40000);
    for (std::size_t i = 0; i < message.size(); ++i) message[i] = static_cast<std::uint8_t>(i * 7);
    const Bytes wire = p.seal(ContentType::application_data, message);
    CHECK(wire.size() == 3 * (5 + 1 + 16) + 40000);
    // Feed one byte at a time: nothing comes out before a record is complete.
    Bytes received;
    int records = 0;
    for (std::uint8_t b : wire) {
        REQUIRE_FALSE(p.reader.feed(ByteView(&b, 1)));
        for (;;) {
            auto r = p.reader.next();
            REQUIRE(r.ok());
            if (!*r) break;
            ++records;
            CHECK((*r)->data.size() <= max_plaintext_length);
            received.insert(received.end(), (*r)->data.begin(), (*r)->data.end());
        }
    }
    CHECK(records == 3);
    CHECK(received == message);
    CHECK(p.reader.buffered() == 0);
}

TEST_CASE("tls13 record: tampered records fail authentication (bad_record_mac)") {
    for (const CipherSuite* suite : all_cipher_suites) {
        CAPTURE(suite->name);
        const Bytes message(300, 0x11);
        for (std::size_t position : {std::size_t{2}, std::size_t{5}, std::size_t{100}, std::size_t{5 + 300}, std::size_t{5 + 301 + 15}}) {
            CAPTURE(position);
            Pipe p(*suite);
            Bytes wire = p.seal(ContentType::application_data, message);
            wire[position] ^= 0x01;  // header (additional data), ciphertext, content type, tag
            auto got = read_one(p.reader, wire);
            REQUIRE_FALSE(got.ok());
            CHECK(got.error() == error_of(Error::bad_record_mac));
            CHECK(alert_for(got.error()) == AlertDescription::bad_record_mac);
        }
    }
}

TEST_CASE("tls13 record: reordered and replayed records fail authentication") {
    Pipe p;
    const Bytes first = p.seal(ContentType::application_data, as_bytes("first"));
    const Bytes second = p.seal(ContentType::application_data, as_bytes("second"));
    SUBCASE("reordered: the second record arrives first") {
        auto got = read_one(p.reader, second);
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::bad_record_mac));
    }
    SUBCASE("replayed: the first record twice") {
        REQUIRE(read_one(p.reader, first).ok());
        auto got = read_one(p.reader, first);
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::bad_record_mac));
    }
    SUBCASE("dropped: a record is missing") {
        const Bytes third = p.seal(ContentType::application_data, as_bytes("third"));
        REQUIRE(read_one(p.reader, first).ok());
        auto got = read_one(p.reader, third);
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::bad_record_mac));
    }
}

TEST_CASE("tls13 record: a failed open does not consume the sequence number (0-RTT skipping, 4.2.10)") {
    Pipe p;
    const Bytes genuine = p.seal(ContentType::application_data, as_bytes("genuine"));
    Pipe other(TLS_AES_128_GCM_SHA256);
    REQUIRE_FALSE(other.writer.install_write(secret_for(TLS_AES_128_GCM_SHA256, 0x99)));
    const Bytes foreign = other.seal(ContentType::application_data, as_bytes("under another key"));
    auto got = read_one(p.reader, foreign);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error() == error_of(Error::bad_record_mac));
    got = read_one(p.reader, genuine);
    REQUIRE(got.ok());
    CHECK(*got == Bytes(as_bytes("genuine").begin(), as_bytes("genuine").end()));
}

TEST_CASE("tls13 record: truncated records") {
    Pipe p;
    const Bytes wire = p.seal(ContentType::application_data, Bytes(500, 0x22));
    SUBCASE("a partial record yields nothing and stays buffered (truncation at end of stream)") {
        REQUIRE_FALSE(p.reader.feed(ByteView(wire).first(wire.size() - 1)));
        auto r = p.reader.next();
        REQUIRE(r.ok());
        CHECK_FALSE(r->has_value());
        CHECK(p.reader.buffered() == wire.size() - 1);
    }
    SUBCASE("a record shortened in its length field fails authentication") {
        Bytes cut(wire.begin(), wire.end() - 10);
        const std::size_t length = cut.size() - 5;
        cut[3] = static_cast<std::uint8_t>(length >> 8);
        cut[4] = static_cast<std::uint8_t>(length);
        auto got = read_one(p.reader, cut);
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::bad_record_mac));
    }
    SUBCASE("a ciphertext too short for a tag and a content type") {
        const Bytes tiny{23, 3, 3, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        auto got = read_one(p.reader, tiny);
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::bad_record_mac));
    }
}

TEST_CASE("tls13 record: oversized records (record_overflow)") {
    SUBCASE("TLSCiphertext length above 2^14+256, refused from the header alone") {
        Pipe p;
        const std::size_t length = max_ciphertext_length + 1;
        const Bytes header{23, 3, 3, static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
        auto got = read_one(p.reader, header);
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::record_overflow));
        CHECK(alert_for(got.error()) == AlertDescription::record_overflow);
    }
    SUBCASE("TLSInnerPlaintext above 2^14+1 bytes, though authentic") {
        Pipe p;
        Bytes inner(max_plaintext_length + 1, 0x33);
        inner.push_back(23);  // content type after 2^14+1 content bytes
        auto got = read_one(p.reader, craft_record(TLS_AES_128_GCM_SHA256, 0, inner));
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::record_overflow));
    }
    SUBCASE("a plaintext record above 2^14 before keys") {
        RecordLayer<> reader;
        const std::size_t length = max_plaintext_length + 1;
        Bytes record{22, 3, 3, static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
        record.resize(5 + length, 1);
        auto got = read_one(reader, record);
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::record_overflow));
    }
    SUBCASE("the writer never produces more than 2^14 content bytes per record") {
        Pipe p;
        Bytes buffer(5);
        buffer.resize(5 + max_plaintext_length + 1, 0);
        CHECK(p.writer.seal_in_place(ContentType::application_data, buffer, 0) == error_of(Error::record_overflow));
    }
}

TEST_CASE("tls13 record: content types") {
    SUBCASE("unknown outer content type: unexpected_message at once") {
        Pipe p;
        const Bytes record{0x19, 3, 3, 0, 1, 0};
        auto got = read_one(p.reader, record);
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::unknown_content_type));
        CHECK(alert_for(got.error()) == AlertDescription::unexpected_message);
    }
    SUBCASE("unknown inner content type") {
        Pipe p;
        auto got = read_one(p.reader, craft_record(TLS_AES_128_GCM_SHA256, 0, Bytes{'h', 'i', 0x63}));
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::unknown_content_type));
    }
    SUBCASE("change_cipher_spec is never protected") {
        Pipe p;
        auto got = read_one(p.reader, craft_record(TLS_AES_128_GCM_SHA256, 0, Bytes{1, 20}));
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::unknown_content_type));
    }
    SUBCASE("all-zero plaintext: no content type (5.4)") {
        Pipe p;
        auto got = read_one(p.reader, craft_record(TLS_AES_128_GCM_SHA256, 0, Bytes(40, 0)));
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::missing_content_type));
        CHECK(alert_for(got.error()) == AlertDescription::unexpected_message);
    }
    SUBCASE("padding is stripped: content type is the last non-zero byte") {
        Pipe p;
        Bytes inner{'o', 'k', 0, 23};  // content "ok\0", then type, then padding
        inner.resize(inner.size() + 100, 0);
        ContentType type{};
        auto got = read_one(p.reader, craft_record(TLS_AES_128_GCM_SHA256, 0, inner), &type);
        REQUIRE(got.ok());
        CHECK(type == ContentType::application_data);
        CHECK(*got == Bytes{'o', 'k', 0});
    }
    SUBCASE("an empty protected handshake or alert record is malformed") {
        Pipe p;
        auto got = read_one(p.reader, craft_record(TLS_AES_128_GCM_SHA256, 0, Bytes{22}));
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::malformed_record_header));
    }
    SUBCASE("an empty application_data record is legal") {
        Pipe p;
        auto got = read_one(p.reader, craft_record(TLS_AES_128_GCM_SHA256, 0, Bytes{23}));
        REQUIRE(got.ok());
        CHECK(got->empty());
    }
}

TEST_CASE("tls13 record: epochs: plaintext before keys, protected after") {
    RecordLayer<> reader;
    SUBCASE("application data before a read key") {
        auto got = read_one(reader, Bytes{23, 3, 3, 0, 1, 0x41});
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::unexpected_record));
    }
    SUBCASE("plaintext handshake passes before keys") {
        ContentType type{};
        auto got = read_one(reader, Bytes{22, 3, 1, 0, 2, 0xaa, 0xbb}, &type);
        REQUIRE(got.ok());
        CHECK(type == ContentType::handshake);
        CHECK(*got == Bytes{0xaa, 0xbb});
    }
    SUBCASE("a zero-length plaintext handshake record is malformed (5.1)") {
        auto got = read_one(reader, Bytes{22, 3, 3, 0, 0});
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::malformed_record_header));
        CHECK(alert_for(got.error()) == AlertDescription::decode_error);
    }
    SUBCASE("a plaintext handshake record after the read key is installed") {
        REQUIRE_FALSE(reader.install_read(secret_for(TLS_AES_128_GCM_SHA256)));
        auto got = read_one(reader, Bytes{22, 3, 3, 0, 2, 0xaa, 0xbb});
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::unexpected_record));
    }
    SUBCASE("middlebox-compatibility change_cipher_spec: exactly 0x01, in any epoch") {
        ContentType type{};
        auto got = read_one(reader, Bytes{20, 3, 3, 0, 1, 1}, &type);
        REQUIRE(got.ok());
        CHECK(type == ContentType::change_cipher_spec);
        REQUIRE_FALSE(reader.install_read(secret_for(TLS_AES_128_GCM_SHA256)));
        got = read_one(reader, Bytes{20, 3, 3, 0, 1, 1}, &type);
        REQUIRE(got.ok());
        CHECK(type == ContentType::change_cipher_spec);
        got = read_one(reader, Bytes{20, 3, 3, 0, 1, 2});
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::invalid_change_cipher_spec));
    }
    SUBCASE("a first ClientHello may use legacy version 0x0301") {
        RecordLayer<> writer;
        Bytes wire;
        REQUIRE_FALSE(writer.write(ContentType::handshake, Bytes{1, 0, 0, 0}, wire, 0x0301));
        CHECK(wire == Bytes{22, 3, 1, 0, 4, 1, 0, 0, 0});
    }
}

TEST_CASE("tls13 record: malformed headers (decode_error)") {
    RecordLayer<> reader;
    auto got = read_one(reader, Bytes{22, 2, 3, 0, 1, 0});
    REQUIRE_FALSE(got.ok());
    CHECK(got.error() == error_of(Error::malformed_record_header));
    CHECK(alert_for(got.error()) == AlertDescription::decode_error);
}

TEST_CASE("tls13 record: the reassembler is bounded") {
    RecordLayer<>::Options options;
    options.max_buffered = 1000;
    RecordLayer<> reader(options);
    Bytes start{22, 3, 3, 0x40, 0x00};  // a 16 KiB record announced
    start.resize(600, 0x55);
    CHECK_FALSE(reader.feed(start));
    CHECK(reader.feed(Bytes(600, 0x55)) == error_of(Error::reassembly_buffer_full));
    CHECK(reader.buffered() == 600);
}

TEST_CASE("tls13 record: length-hiding padding policies") {
    SUBCASE("pad to a multiple of 64") {
        RecordLayer<>::Options options;
        options.padding = PaddingPolicy::to_multiple_of(64);
        Pipe p(TLS_CHACHA20_POLY1305_SHA256, options);
        for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{62}, std::size_t{63}, std::size_t{64}, std::size_t{1000}}) {
            CAPTURE(n);
            const Bytes message(n, 0x5a);
            const Bytes wire = p.seal(ContentType::application_data, message);
            CHECK((wire.size() - 5 - 16) % 64 == 0);
            auto got = read_one(p.reader, wire);
            REQUIRE(got.ok());
            CHECK(*got == message);
        }
    }
    SUBCASE("pad every record to the full size") {
        RecordLayer<>::Options options;
        options.padding = PaddingPolicy::full_record();
        Pipe p(TLS_AES_256_GCM_SHA384, options);
        for (std::size_t n : {std::size_t{1}, std::size_t{700}, std::size_t{16384}}) {
            const Bytes message(n, 0x5a);
            const Bytes wire = p.seal(ContentType::application_data, message);
            CHECK(wire.size() == 5 + max_inner_plaintext_length + 16);
            auto got = read_one(p.reader, wire);
            REQUIRE(got.ok());
            CHECK(*got == message);
        }
    }
    SUBCASE("full-record padding within a peer's record_size_limit") {
        RecordLayer<>::Options options;
        options.padding = PaddingPolicy::full_record();
        Pipe p(TLS_AES_128_GCM_SHA256, options);
        REQUIRE_FALSE(p.writer.set_send_record_size_limit(512));
        REQUIRE_FALSE(p.reader.set_receive_record_size_limit(512));
        const Bytes wire = p.seal(ContentType::application_data, Bytes(1000, 1));
        CHECK(wire.size() == 2 * (5 + 512 + 16));
        REQUIRE_FALSE(p.reader.feed(wire));
        for (int i = 0; i < 2; ++i) {
            auto r = p.reader.next();
            REQUIRE(r.ok());
            REQUIRE(r->has_value());
            CHECK((*r)->data.size() == (i == 0 ? 511u : 489u));
        }
    }
    SUBCASE("the padding arithmetic") {
        CHECK(PaddingPolicy::none().padding_for(10, 16385) == 0);
        CHECK(PaddingPolicy::to_multiple_of(16).padding_for(10, 16385) == 6);
        CHECK(PaddingPolicy::to_multiple_of(16).padding_for(16, 16385) == 0);
        CHECK(PaddingPolicy::to_multiple_of(1000).padding_for(16001, 16385) == 384);  // capped by the limit
        CHECK(PaddingPolicy::full_record().padding_for(10, 100) == 90);
    }
}

TEST_CASE("tls13 record: record_size_limit (RFC 8449)") {
    SUBCASE("the writer respects the peer's limit") {
        Pipe p;
        REQUIRE_FALSE(p.writer.set_send_record_size_limit(100));
        CHECK(p.writer.max_fragment_length() == 99);
        const Bytes wire = p.seal(ContentType::application_data, Bytes(250, 7));
        CHECK(wire.size() == 3 * (5 + 1 + 16) + 250);
        CHECK(wire[3] == 0);
        CHECK(wire[4] == 99 + 1 + 16);
    }
    SUBCASE("the reader refuses records above the limit it advertised") {
        Pipe p;
        REQUIRE_FALSE(p.reader.set_receive_record_size_limit(100));
        auto got = read_one(p.reader, p.seal(ContentType::application_data, Bytes(100, 7)));  // inner 101
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == error_of(Error::record_size_limit_exceeded));
        CHECK(alert_for(got.error()) == AlertDescription::record_overflow);
    }
    SUBCASE("exactly at the limit is accepted") {
        Pipe p;
        REQUIRE_FALSE(p.reader.set_receive_record_size_limit(100));
        auto got = read_one(p.reader, p.seal(ContentType::application_data, Bytes(99, 7)));
        CHECK(got.ok());
    }
    SUBCASE("limits below 64 are illegal; above 2^14+1 are clamped") {
        RecordLayer<> layer;
        CHECK(layer.set_send_record_size_limit(63) == error_of(Error::illegal_parameter));
        REQUIRE_FALSE(layer.install_write(secret_for(TLS_AES_128_GCM_SHA256)));
        REQUIRE_FALSE(layer.set_send_record_size_limit(65535));
        CHECK(layer.max_fragment_length() == max_plaintext_length);
    }
}

TEST_CASE("tls13 record: key-usage limits raise key_expiring, then refuse") {
    RecordLayer<>::Options options;
    options.limits.records = 3;
    options.limits.grace_records = 2;
    Pipe p(TLS_AES_128_GCM_SHA256, options);
    for (int i = 0; i < 3; ++i) {
        CHECK_FALSE(p.writer.take_key_expiring());
        p.seal(ContentType::application_data, as_bytes("x"));
    }
    CHECK(p.writer.take_key_expiring());
    CHECK_FALSE(p.writer.take_key_expiring());  // reported once
    p.seal(ContentType::handshake, as_bytes("KeyUpdate"));  // the grace covers the KeyUpdate
    p.seal(ContentType::application_data, as_bytes("y"));
    Bytes wire;
    CHECK(p.writer.write(ContentType::application_data, as_bytes("z"), wire) == error_of(Error::key_usage_exhausted));
    CHECK(wire.empty());
    // KeyUpdate: the next generation secret, sequence numbers restart.
    const auto next = next_traffic_secret<Crypto>(secret_for(TLS_AES_128_GCM_SHA256));
    REQUIRE_FALSE(p.writer.install_write(next));
    CHECK(p.writer.write_state()->sequence() == 0);
    CHECK_FALSE(p.writer.write(ContentType::application_data, as_bytes("z"), wire));
    CHECK_FALSE(p.writer.take_key_expiring());
}

TEST_CASE("tls13 record: byte limits") {
    RecordLayer<>::Options options;
    options.limits.bytes = 1000;
    options.limits.grace_records = 1;
    Pipe p(TLS_AES_128_GCM_SHA256, options);
    p.seal(ContentType::application_data, Bytes(600, 1));
    CHECK_FALSE(p.writer.take_key_expiring());
    p.seal(ContentType::application_data, Bytes(600, 1));
    CHECK(p.writer.take_key_expiring());
    p.seal(ContentType::application_data, Bytes(10, 1));
    Bytes wire;
    CHECK(p.writer.write(ContentType::application_data, Bytes(10, 1), wire) == error_of(Error::key_usage_exhausted));
}

TEST_CASE("tls13 record: AES-GCM default limit is RFC 8446 5.5's 2^24.5 records") {
    CHECK(TLS_AES_128_GCM_SHA256.confidentiality_limit == 23'726'566);
    CHECK(TLS_AES_256_GCM_SHA384.confidentiality_limit == 23'726'566);
    CHECK(TLS_CHACHA20_POLY1305_SHA256.confidentiality_limit > (std::uint64_t{1} << 62));
}

TEST_CASE("tls13 errors: distinct messages, alerts, peer alerts") {
    std::set<std::string> messages;
    int count = 0;
    for (int v = 1; v <= 140; ++v) {
        const std::string m = make_error_code(static_cast<Error>(v)).message();
        if (m == "unknown TLS 1.3 error") continue;
        ++count;
        messages.insert(m);
    }
    CHECK(count == static_cast<int>(messages.size()));
    CHECK(count > 40);
    CHECK(make_error_code(Error::bad_finished).category().name() == std::string("tls13"));
    CHECK(alert_for(Error::bad_finished) == AlertDescription::decrypt_error);
    CHECK(alert_for(Error::downgrade_detected) == AlertDescription::illegal_parameter);
    CHECK(alert_for(make_error_code(Errc::decode_error)) == AlertDescription::decode_error);
    const auto peer = peer_alert_error(AlertDescription::bad_certificate);
    CHECK(peer.message() == "peer sent alert bad_certificate");
    CHECK(peer != peer_alert_error(AlertDescription::decode_error));
    CHECK(encode_alert(AlertDescription::close_notify) == Bytes{1, 0});
    CHECK(encode_alert(AlertDescription::bad_record_mac) == Bytes{2, 20});
    auto parsed = parse_alert(Bytes{2, 40});
    REQUIRE(parsed.ok());
    CHECK(parsed->description == AlertDescription::handshake_failure);
    CHECK_FALSE(parse_alert(Bytes{2}).ok());
    CHECK_FALSE(parse_alert(Bytes{3, 0}).ok());
}

TEST_CASE("tls13 record: change_cipher_spec is written in plaintext even after keys") {
    Pipe p;
    Bytes wire;
    REQUIRE_FALSE(p.writer.write(ContentType::change_cipher_spec, Bytes{1}, wire));
    CHECK(wire == Bytes{20, 3, 3, 0, 1, 1});
    CHECK(p.writer.write_state()->sequence() == 0);  // no sequence number consumed
    ContentType type{};
    auto got = read_one(p.reader, wire, &type);
    REQUIRE(got.ok());
    CHECK(type == ContentType::change_cipher_spec);
    CHECK(p.writer.write(ContentType::change_cipher_spec, Bytes{2}, wire) == make_error_code(Errc::invalid_configuration));
}

TEST_CASE("tls13 record: KeyUpdate through the record layer, both directions") {
    Pipe p;
    REQUIRE(read_one(p.reader, p.seal(ContentType::application_data, as_bytes("before"))).ok());
    // The KeyUpdate message itself goes under the old key; then both sides move on.
    REQUIRE(read_one(p.reader, p.seal(ContentType::handshake, Bytes{24, 0, 0, 1, 0})).ok());
    REQUIRE_FALSE(p.writer.update_write_key());
    const Bytes after = p.seal(ContentType::application_data, as_bytes("after"));
    SUBCASE("a reader that did not update fails authentication") {
        auto got = read_one(p.reader, after);
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == make_error_code(Error::bad_record_mac));
    }
    SUBCASE("a reader that updated opens it with sequence number 0") {
        REQUIRE_FALSE(p.reader.update_read_key());
        auto got = read_one(p.reader, after);
        REQUIRE(got.ok());
        CHECK(p.reader.read_state()->sequence() == 1);
    }
    SUBCASE("updating before any key is an error") {
        RecordLayer<> fresh;
        CHECK(fresh.update_write_key() == make_error_code(Error::record_layer_not_keyed));
        CHECK(fresh.update_read_key() == make_error_code(Error::record_layer_not_keyed));
    }
}

// The record policy as Secure<> sees it.
struct HandshakeExportingTrafficSecrets {
    static constexpr std::string_view name = "test handshake";
    using provides = features<feature::forward_secrecy>;
    using exported_keys = TrafficSecrets;
    static constexpr KeyExport key_export = KeyExport::direct;
    struct Config : CommonConfig {};
};
static_assert(RecordPolicy<AeadRecord>);
static_assert(std::is_same_v<tapsec::AeadRecord, tls13::AeadRecord>);
static_assert(AeadRecord::key_import == KeyImport::direct);
static_assert(std::is_same_v<AeadRecord::imported_keys, TrafficSecrets>);
static_assert(KeysFlowFromHandshakeToRecord<HandshakeExportingTrafficSecrets, AeadRecord>);
static_assert(declared_features<AeadRecord>().has<feature::record_protection>());
static_assert(declared_features<AeadRecord>().has<feature::length_hiding_padding>());
static_assert(declared_features<AeadRecord>().has<feature::rekeying>());
static_assert(declared_features<AeadRecord>().has<feature::replay_protection>());
static_assert(!declared_features<AeadRecord>().has<feature::out_of_order_receipt>());
static_assert(needs<AeadRecord, dependency::reliable_byte_stream>());
static_assert(std::is_same_v<AeadRecord::layer<>, RecordLayer<crypto::DefaultProvider>>);

TEST_CASE("tls13 record: the reassembler places every fragment on a 16-byte boundary") {
    Pipe p;
    Bytes wire;
    for (std::size_t n : {std::size_t{1}, std::size_t{100}, std::size_t{16384}, std::size_t{7}, std::size_t{3000}}) {
        Bytes chunk;
        REQUIRE_FALSE(p.writer.write(ContentType::application_data, Bytes(n, static_cast<std::uint8_t>(n)), chunk));
        append(wire, chunk);
    }
    // Fed in odd-sized pieces, returned in order, each fragment aligned, contents intact.
    std::size_t offset = 0, step = 1;
    std::vector<std::size_t> sizes;
    while (offset < wire.size()) {
        const std::size_t n = std::min(step, wire.size() - offset);
        REQUIRE_FALSE(p.reader.feed(ByteView(wire).subspan(offset, n)));
        offset += n;
        step = step * 3 + 1;
        for (;;) {
            auto r = p.reader.next();
            REQUIRE(r.ok());
            if (!*r) break;
            CHECK(reinterpret_cast<std::uintptr_t>((*r)->data.data()) % 16 == 0);
            CHECK(std::all_of((*r)->data.begin(), (*r)->data.end(),
                              [&](std::uint8_t b) { return b == static_cast<std::uint8_t>((*r)->data.size()); }));
            sizes.push_back((*r)->data.size());
        }
    }
    CHECK(sizes == std::vector<std::size_t>{1, 100, 16384, 7, 3000});
    CHECK(p.reader.buffered() == 0);
}

TEST_CASE("tls13 record: records before a malformed header are still returned") {
    Pipe p;
    Bytes wire = p.seal(ContentType::application_data, as_bytes("good"));
    append(wire, Bytes{22, 2, 0, 0, 1, 0});  // bad version
    REQUIRE_FALSE(p.reader.feed(wire));
    auto first = p.reader.next();
    REQUIRE(first.ok());
    REQUIRE(first->has_value());
    auto second = p.reader.next();
    REQUIRE_FALSE(second.ok());
    CHECK(second.error() == error_of(Error::malformed_record_header));
}

}  // namespace tls13_record_test
