// ZRTP negative tests, table-driven per message type: each row alters one datagram in
// flight (tampered field, truncated, bad CRC, oversized, MAC that a later hash image
// refutes, wrong hvi, replay) and names the exact zrtp::Error the receiver must count.
// Rows whose damage is confined to one transmission must still complete through
// retransmission; rows that poison state the peer relies on must fail cleanly.
#include <doctest/doctest.h>

#include "unit/zrtp_pair.hpp"

using namespace tapsec;
using namespace tapsec::zrtp;
using tapsec::test::ZrtpPair;

namespace zrtp_negative_test {

constexpr std::size_t at = packet_header_size;  // message offsets below are from the preamble

void fix_crc(Bytes& d) { write_crc(MutableByteView(d).last(crc_size), crc32c(ByteView(d).first(d.size() - crc_size))); }
void flip(Bytes& d, std::size_t message_offset) { d[at + message_offset] ^= 0x01; }
std::size_t message_size(const Bytes& d) { return d.size() - packet_header_size - crc_size; }
/// Removes `words` words before the CRC and lowers the length field to match.
void shorten(Bytes& d, std::size_t words) {
    d.erase(d.end() - static_cast<std::ptrdiff_t>(crc_size + 4 * words), d.end() - static_cast<std::ptrdiff_t>(crc_size));
    const std::size_t length = message_size(d) / 4;
    d[at + 2] = static_cast<std::uint8_t>(length >> 8);
    d[at + 3] = static_cast<std::uint8_t>(length);
}

struct Row {
    const char* name;
    MessageType type;  // the first datagram of this type is altered
    bool from_initiator;
    std::function<void(Bytes&)> alter;
    Error expected;
    bool completes;  // the exchange still finishes (the damage hit one transmission only)
    bool ec25 = false;
};

const Row rows[] = {
    // framing, on every kind of message
    {"Hello with a bad CRC", MessageType::hello, true, [](Bytes& d) { flip(d, 20); }, Error::bad_crc, true},
    {"Hello truncated (length says more)", MessageType::hello, false,
     [](Bytes& d) { d.erase(d.end() - 12, d.end() - 4); fix_crc(d); }, Error::truncated_packet, true},
    {"Hello oversized", MessageType::hello, true, [](Bytes& d) { d.insert(d.end() - 4, 1100, 0); fix_crc(d); },
     Error::oversized_packet, true},
    {"Hello with an algorithm count past 7", MessageType::hello, false,
     [](Bytes& d) { d[at + 12 + 4 + 16 + 32 + 12 + 1] = 0x0f; fix_crc(d); }, Error::malformed_message, true},
    {"Hello with a bad preamble", MessageType::hello, true, [](Bytes& d) { d[at] = 0x51; fix_crc(d); }, Error::bad_preamble, true},
    {"unknown message type block", MessageType::hello_ack, false,
     [](Bytes& d) { std::copy_n("Nonsense", 8, d.begin() + at + 4); fix_crc(d); }, Error::unknown_message_type, true},
    {"HelloACK with a body", MessageType::hello_ack, false,
     [](Bytes& d) { d.insert(d.end() - 4, 4, 0); d[at + 3] = 4; fix_crc(d); }, Error::malformed_message, true},
    {"bad magic cookie", MessageType::commit, true, [](Bytes& d) { d[4] = 0; fix_crc(d); }, Error::not_zrtp, true},
    {"source identifier changes", MessageType::commit, true, [](Bytes& d) { d[8] ^= 0xff; fix_crc(d); },
     Error::ssrc_changed, true},
    // MACs that only a later hash image can check
    {"Hello MAC refuted by the Commit's H2", MessageType::hello, true,
     [](Bytes& d) { flip(d, message_size(d) - 1); fix_crc(d); }, Error::bad_hello_mac, false},
    {"responder Hello MAC refuted by DHPart1's H1", MessageType::hello, false,
     [](Bytes& d) { flip(d, message_size(d) - 1); fix_crc(d); }, Error::bad_hello_mac, false},
    {"Commit MAC refuted by DHPart2's H1", MessageType::commit, true,
     [](Bytes& d) { flip(d, 108); fix_crc(d); }, Error::bad_commit_mac, false},
    // Commit
    {"Commit whose H2 is not the Hello's preimage", MessageType::commit, true, [](Bytes& d) { flip(d, 12); fix_crc(d); },
     Error::bad_hash_chain, true},
    {"Commit truncated", MessageType::commit, true, [](Bytes& d) { shorten(d, 1); fix_crc(d); }, Error::malformed_message, true},
    {"Commit in Multistream mode", MessageType::commit, true,
     [](Bytes& d) { std::copy_n("Mult", 4, d.begin() + at + 68); fix_crc(d); }, Error::unsupported_mode, true},
    {"Commit picks a SAS type that was not offered", MessageType::commit, true,
     [](Bytes& d) { std::copy_n("B256", 4, d.begin() + at + 72); fix_crc(d); }, Error::unsupported_sas, false},
    {"Commit picks a hash that was not offered", MessageType::commit, true,
     [](Bytes& d) { std::copy_n("S384", 4, d.begin() + at + 56); fix_crc(d); }, Error::unsupported_hash, false},
    // DHPart1 / DHPart2
    {"DHPart1 whose H1 is off the responder's chain", MessageType::dh_part1, false, [](Bytes& d) { flip(d, 12); fix_crc(d); },
     Error::bad_hash_chain, true},
    {"DHPart1 with a short pv", MessageType::dh_part1, false, [](Bytes& d) { shorten(d, 1); fix_crc(d); },
     Error::bad_public_value, true},
    {"DHPart1 with a P-256 pv off the curve", MessageType::dh_part1, false, [](Bytes& d) { flip(d, 76 + 40); fix_crc(d); },
     Error::bad_public_value, true, true},
    {"DHPart2 that breaks the hvi commitment", MessageType::dh_part2, true, [](Bytes& d) { flip(d, 44); fix_crc(d); },
     Error::hvi_mismatch, true},
    {"DHPart2 whose H1 is not the Commit's preimage", MessageType::dh_part2, true, [](Bytes& d) { flip(d, 12); fix_crc(d); },
     Error::bad_hash_chain, true},
    {"DHPart2 truncated below its fixed part", MessageType::dh_part2, true, [](Bytes& d) { shorten(d, 12); fix_crc(d); },
     Error::malformed_message, true},
    // Confirm1 / Confirm2
    {"Confirm1 with a tampered ciphertext", MessageType::confirm1, false,
     [](Bytes& d) { flip(d, 40); fix_crc(d); }, Error::bad_confirm_mac, true},
    {"Confirm2 with a tampered confirm_mac", MessageType::confirm2, true, [](Bytes& d) { flip(d, 12); fix_crc(d); },
     Error::bad_confirm_mac, true},
    // The CFB IV is outside the Confirm MAC (RFC 6189 5.7): a changed IV garbles the first
    // block, H0, which the hash chain then refuses.
    {"Confirm2 with a tampered IV", MessageType::confirm2, true, [](Bytes& d) { flip(d, 20); fix_crc(d); },
     Error::bad_hash_chain, true},
    {"Confirm1 truncated", MessageType::confirm1, false, [](Bytes& d) { shorten(d, 3); fix_crc(d); },
     Error::malformed_message, true},
    {"Conf2ACK with a body", MessageType::conf2_ack, false,
     [](Bytes& d) { d.insert(d.end() - 4, 4, 0); d[at + 3] = 4; fix_crc(d); }, Error::malformed_message, true},
};


TEST_CASE("zrtp negative: each altered message is dropped with its own error") {
    for (const Row& row : rows) {
        const std::string name = row.name;
        CAPTURE(name);
        Config ca, cb;
        if (row.ec25) ca.key_agreements = cb.key_agreements = {algo::ec25};
        ZrtpPair p(ca, cb);
        bool altered = false;
        p.hook = [&](bool from_a, Bytes& d) {
            if (altered || from_a != row.from_initiator) return true;
            auto packet = parse_packet(d);
            if (!packet || packet->type != row.type) return true;
            altered = true;
            row.alter(d);
            return true;
        };
        p.start();
        const bool completed = p.run(300);
        REQUIRE(altered);
        const test::ZrtpEngine& receiver = row.from_initiator ? p.b : p.a;
        const auto code = make_error_code(row.expected);
        const bool counted = receiver.drops(row.expected) > 0 || receiver.failure() == code;
        CHECK_MESSAGE(counted, "last drop: " << receiver.last_drop().message() << ", failure: " << receiver.failure().message());
        CHECK(completed == row.completes);
        if (completed) {
            CHECK(p.a.sas()->rendering == p.b.sas()->rendering);
            CHECK(p.a.exported_keys()->client_write.key == p.b.exported_keys()->client_write.key);
        }
    }
}

TEST_CASE("zrtp negative: a refused Commit answers with the RFC 6189 Error code, and the peer acknowledges") {
    ZrtpPair p;
    bool altered = false;
    std::optional<std::uint32_t> error_sent;
    bool error_ack_seen = false;
    p.hook = [&](bool from_a, Bytes& d) {
        auto packet = parse_packet(d);
        if (!packet) return true;
        if (from_a && packet->type == MessageType::commit && !altered) {
            altered = true;
            std::copy_n("AES3", 4, d.begin() + at + 60);
            fix_crc(d);
        }
        if (!from_a && packet->type == MessageType::error) error_sent = parse_error(packet->message).value();
        if (from_a && packet->type == MessageType::error_ack) error_ack_seen = true;
        return true;
    };
    p.start();
    CHECK_FALSE(p.run());
    CHECK(p.b.failure() == make_error_code(Error::unsupported_cipher));
    REQUIRE(error_sent);
    CHECK(*error_sent == static_cast<std::uint32_t>(ErrorCode::cipher_type_not_supported));
    CHECK(p.a.failure() == make_error_code(Error::peer_error));
    CHECK(p.a.peer_error_code() == static_cast<std::uint32_t>(ErrorCode::cipher_type_not_supported));
    CHECK(error_ack_seen);
}

TEST_CASE("zrtp negative: replayed packets and media before keys are dropped, never fatal") {
    ZrtpPair p;
    std::vector<Bytes> seen_by_b;
    p.hook = [&](bool from_a, Bytes& d) {
        if (from_a) seen_by_b.push_back(d);
        return true;
    };
    p.start();
    REQUIRE(p.run());
    REQUIRE(seen_by_b.size() >= 4);
    for (const Bytes& old : seen_by_b) CHECK_FALSE(p.b.receive(old, p.a_ep, p.now));
    CHECK(p.b.drops(Error::replayed_packet) == seen_by_b.size());
    CHECK(p.b.is_established());

    test::ZrtpEngine fresh(Role::server, Config{});
    REQUIRE_FALSE(fresh.start({}));
    CHECK_FALSE(fresh.receive(test::rtp_packet(1, 1, "early"), p.a_ep, {}));
    CHECK(fresh.drops(Error::not_keyed) == 1);
    CHECK(fresh.send(test::rtp_packet(1, 1, "early"), {}) == make_error_code(Error::not_keyed));
    // Media tampered after the exchange: SRTP's own error, counted as a drop.
    REQUIRE_FALSE(p.a.send(test::rtp_packet(5, 5, "media"), p.now));
    auto t = p.a.poll_transmit();
    REQUIRE(t);
    t->data[14] ^= 1;
    CHECK_FALSE(p.b.receive(t->data, p.a_ep, p.now));
    CHECK(p.b.last_drop() == make_error_code(srtp::Error::authentication_failed));
    auto events = 0;
    while (auto e = p.b.poll_event())
        if (e->kind == EventKind::dropped_packet) ++events;
    CHECK(events >= 1);
}

TEST_CASE("zrtp negative: a Hello carrying our own ZID, and arbitrary bytes, are handled") {
    Config ca, cb;
    Zid same{};
    same.fill(7);
    ca.zid = cb.zid = same;
    ZrtpPair p(ca, cb);
    p.start();
    CHECK_FALSE(p.run());
    CHECK((p.a.failure() == make_error_code(Error::equal_zids) || p.b.failure() == make_error_code(Error::equal_zids)));

    test::ZrtpEngine e(Role::server, Config{});
    REQUIRE_FALSE(e.start({}));
    std::mt19937 rng(3);
    for (int i = 0; i < 2000; ++i) {
        Bytes junk(static_cast<std::size_t>(rng() % 200));
        for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
        if (!junk.empty() && i % 2) junk[0] = 0x10;  // reach the ZRTP parser half the time
        if (junk.size() >= 8 && i % 4 == 1) {
            junk[4] = 0x5a, junk[5] = 0x52, junk[6] = 0x54, junk[7] = 0x50;
            if (junk.size() >= 28) fix_crc(junk);
        }
        CHECK_FALSE(e.receive(junk, *Endpoint::parse("127.0.0.1:9"), {}));
    }
    CHECK_FALSE(e.is_closed());
}

}  // namespace zrtp_negative_test
