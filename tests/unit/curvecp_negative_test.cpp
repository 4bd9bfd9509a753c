// CurveCP negative tests, table-driven per packet type: tampered boxes, wrong
// extensions, truncated and oversized packets, replays, wrong and expired cookies, a
// wrong server name, a bad vouch, a client refused by the application, and malformed
// curvecpmessage blocks. Each bad packet is dropped with its own reason (the engine's
// last_drop()), nothing is delivered, and the connection still completes or continues.
#include <doctest/doctest.h>

#include "support/curvecp_pair.hpp"

using namespace curvecp_test;
using tapsec::curvecp::Error;
namespace cmsg = tapsec::curvecp::message;

namespace curvecp_negative_test {

bool is(const Bytes& p, std::string_view magic) { return p.size() >= 8 && std::string_view(reinterpret_cast<const char*>(p.data()), 8) == magic; }

enum class Mutation { flip_last_byte, flip_byte_at, truncate_16, truncate_1, extend_16, server_extension, client_extension };

struct Case {
    const char* name;
    bool from_client;
    std::string_view magic;
    Mutation mutation;
    std::size_t offset;  // for flip_byte_at
    Error expected;
};

void mutate(Bytes& p, Mutation m, std::size_t offset) {
    switch (m) {
        case Mutation::flip_last_byte: p.back() ^= 0x01; break;
        case Mutation::flip_byte_at: p[offset] ^= 0x80; break;
        case Mutation::truncate_16: p.resize(p.size() - 16); break;
        case Mutation::truncate_1: p.resize(p.size() - 1); break;
        case Mutation::extend_16: p.resize(p.size() + 16, 0); break;
        case Mutation::server_extension: p[is(p, "RL3aNMXK") || is(p, "RL3aNMXM") ? 24 : 8] ^= 0xff; break;
        case Mutation::client_extension: p[is(p, "RL3aNMXK") || is(p, "RL3aNMXM") ? 8 : 24] ^= 0xff; break;
    }
}

const Case cases[] = {
    // Hello (224): the server answers nothing
    {"Hello: tampered box", true, "QvnQ5XlH", Mutation::flip_last_byte, 0, Error::box_failed},
    {"Hello: tampered short-term key", true, "QvnQ5XlH", Mutation::flip_byte_at, 41, Error::box_failed},
    {"Hello: tampered nonce", true, "QvnQ5XlH", Mutation::flip_byte_at, 137, Error::box_failed},
    {"Hello: other server extension", true, "QvnQ5XlH", Mutation::server_extension, 0, Error::wrong_extension},
    {"Hello: truncated by 16", true, "QvnQ5XlH", Mutation::truncate_16, 0, Error::malformed_packet},
    {"Hello: truncated by 1", true, "QvnQ5XlH", Mutation::truncate_1, 0, Error::malformed_packet},
    {"Hello: oversized by 16", true, "QvnQ5XlH", Mutation::extend_16, 0, Error::malformed_packet},
    // Cookie (200)
    {"Cookie: tampered box", false, "RL3aNMXK", Mutation::flip_last_byte, 0, Error::box_failed},
    {"Cookie: tampered nonce", false, "RL3aNMXK", Mutation::flip_byte_at, 45, Error::box_failed},
    {"Cookie: other client extension", false, "RL3aNMXK", Mutation::client_extension, 0, Error::wrong_extension},
    {"Cookie: other server extension", false, "RL3aNMXK", Mutation::server_extension, 0, Error::wrong_extension},
    {"Cookie: truncated by 16", false, "RL3aNMXK", Mutation::truncate_16, 0, Error::malformed_packet},
    {"Cookie: truncated by 1", false, "RL3aNMXK", Mutation::truncate_1, 0, Error::malformed_packet},
    {"Cookie: oversized by 16", false, "RL3aNMXK", Mutation::extend_16, 0, Error::malformed_packet},
    // Initiate (544 + M)
    {"Initiate: tampered box", true, "QvnQ5XlI", Mutation::flip_last_byte, 0, Error::box_failed},
    {"Initiate: tampered cookie (its box)", true, "QvnQ5XlI", Mutation::flip_byte_at, 72 + 40, Error::bad_cookie},
    {"Initiate: tampered cookie nonce", true, "QvnQ5XlI", Mutation::flip_byte_at, 72 + 3, Error::bad_cookie},
    {"Initiate: short-term key not the cookie's", true, "QvnQ5XlI", Mutation::flip_byte_at, 50, Error::bad_cookie},
    {"Initiate: tampered nonce", true, "QvnQ5XlI", Mutation::flip_byte_at, 170, Error::box_failed},
    {"Initiate: other server extension", true, "QvnQ5XlI", Mutation::server_extension, 0, Error::wrong_extension},
    {"Initiate: truncated by 16", true, "QvnQ5XlI", Mutation::truncate_16, 0, Error::box_failed},
    {"Initiate: truncated by 1", true, "QvnQ5XlI", Mutation::truncate_1, 0, Error::malformed_packet},
    {"Initiate: oversized (M > 640)", true, "QvnQ5XlI", Mutation::extend_16, 0, Error::box_failed},
    // Server Message (64 + M)
    {"server Message: tampered box", false, "RL3aNMXM", Mutation::flip_last_byte, 0, Error::box_failed},
    {"server Message: tampered nonce", false, "RL3aNMXM", Mutation::flip_byte_at, 46, Error::box_failed},
    {"server Message: other client extension", false, "RL3aNMXM", Mutation::client_extension, 0, Error::wrong_extension},
    {"server Message: truncated by 16", false, "RL3aNMXM", Mutation::truncate_16, 0, Error::box_failed},
    {"server Message: truncated by 1", false, "RL3aNMXM", Mutation::truncate_1, 0, Error::malformed_packet},
    // Client Message (96 + M)
    {"client Message: tampered box", true, "QvnQ5XlM", Mutation::flip_last_byte, 0, Error::box_failed},
    {"client Message: tampered nonce", true, "QvnQ5XlM", Mutation::flip_byte_at, 78, Error::box_failed},
    {"client Message: unknown short-term key", true, "QvnQ5XlM", Mutation::flip_byte_at, 45, Error::unknown_client},
    {"client Message: other server extension", true, "QvnQ5XlM", Mutation::server_extension, 0, Error::wrong_extension},
    {"client Message: truncated by 16", true, "QvnQ5XlM", Mutation::truncate_16, 0, Error::box_failed},
    {"client Message: truncated by 1", true, "QvnQ5XlM", Mutation::truncate_1, 0, Error::malformed_packet},
};


TEST_CASE("curvecp negative: each bad packet is dropped with its reason; the connection recovers") {
    for (const Case& c : cases) {
        const std::string name = c.name;
        CAPTURE(name);
        Pair pair(make_configs());
        bool done = false;
        std::error_code seen;
        pair.hook = [&](bool from_client, Bytes& p) {
            if (done || from_client != c.from_client || !is(p, c.magic)) return true;
            done = true;
            mutate(p, c.mutation, c.offset);
            Engine& receiver = from_client ? pair.server : pair.client;
            const auto before = receiver.dropped();
            (void)receiver.receive(p, from_client ? pair.client_address : pair.server_address, pair.now);
            CHECK(receiver.dropped() == before + 1);
            seen = receiver.last_drop();
            return false;  // the receiver has seen the bad copy; the original is lost
        };
        REQUIRE(pair.handshake());
        // Messages in both directions, so every packet type passes the hook.
        const Bytes up = pattern(3000, 1), down = pattern(2000, 2);
        REQUIRE_FALSE(pair.client.send(up, pair.now));
        REQUIRE(pair.run_until([&] { return pair.server_received.size() == up.size(); }));
        REQUIRE_FALSE(pair.server.send(down, pair.now));
        REQUIRE(pair.run_until([&] { return pair.client_received.size() == down.size(); }));
        CHECK(done);
        CHECK_MESSAGE(seen == c.expected, seen.message());
        CHECK(pair.server_received == up);  // nothing of the bad packet was delivered
        CHECK(pair.client_received == down);
    }
}

TEST_CASE("curvecp negative: replayed packets of every type are refused") {
    Pair pair(make_configs());
    REQUIRE(pair.handshake());
    REQUIRE_FALSE(pair.client.send(pattern(3000), pair.now));
    REQUIRE_FALSE(pair.server.send(pattern(3000), pair.now));
    REQUIRE(pair.run_until([&] { return pair.server_received.size() == 3000 && pair.client_received.size() == 3000; }));
    struct Replay {
        const char* name;
        bool from_client;
        std::string_view magic;
        Error expected;
    };
    const Replay replays[] = {
        {"Initiate after the connection exists", true, "QvnQ5XlI", Error::replayed_packet},
        {"client Message", true, "QvnQ5XlM", Error::replayed_packet},
        {"server Message", false, "RL3aNMXM", Error::replayed_packet},
        {"Hello to an established server", true, "QvnQ5XlH", Error::unexpected_packet},
        {"Cookie to an initiated client", false, "RL3aNMXK", Error::unexpected_packet},
    };
    for (const auto& r : replays) {
        const std::string name = r.name;
        CAPTURE(name);
        const auto& sent = r.from_client ? pair.client_sent : pair.server_sent;
        auto it = std::find_if(sent.begin(), sent.end(), [&](const Bytes& p) { return is(p, r.magic); });
        REQUIRE(it != sent.end());
        Engine& receiver = r.from_client ? pair.server : pair.client;
        const auto before_server = pair.server_received.size(), before_client = pair.client_received.size();
        (void)receiver.receive(*it, r.from_client ? pair.client_address : pair.server_address, pair.now);
        CHECK(receiver.last_drop() == r.expected);
        if (r.expected == Error::replayed_packet) CHECK(receiver.last_drop() == condition::replayed);
        pair.shuttle();
        CHECK(pair.server_received.size() == before_server);
        CHECK(pair.client_received.size() == before_client);
    }
}

TEST_CASE("curvecp negative: minute keys: the previous one is accepted, older ones are not") {
    struct Delay {
        std::chrono::seconds wait;
        bool accepted;
    };
    for (const Delay& delay : {Delay{std::chrono::seconds(30), true}, Delay{std::chrono::seconds(90), true},
                               Delay{std::chrono::seconds(125), false}, Delay{std::chrono::seconds(400), false}}) {
        // Plain variables, not structured bindings: the lambdas below capture them.
        const std::chrono::seconds wait = delay.wait;
        const bool accepted = delay.accepted;
        CAPTURE(wait.count());
        Pair pair(make_configs());
        // The Cookie is held back; the client's Initiate then carries a cookie that old.
        bool delayed = false;
        pair.hook = [&](bool from_client, Bytes& p) {
            if (!from_client && is(p, "RL3aNMXK") && !delayed) {
                delayed = true;
                pair.now += wait;
            }
            return true;
        };
        REQUIRE_FALSE(pair.client.start(pair.now));
        const bool established = pair.run_until([&] { return pair.server.is_established(); }, std::chrono::seconds(5));
        CHECK(established == accepted);
        if (!accepted) CHECK(pair.server.last_drop() == Error::bad_cookie);
    }
}

TEST_CASE("curvecp negative: a cookie from another handshake (another C') is refused") {
    Pair first(make_configs());
    REQUIRE(first.handshake());
    Pair second(make_configs());
    second.now = first.now;
    bool swapped = false;
    second.hook = [&](bool from_client, Bytes& p) {
        if (from_client && is(p, "QvnQ5XlI") && !swapped) {
            swapped = true;
            // The cookie K of the first connection: valid under the minute key of another
            // server engine, never under this one's.
            const Bytes& other = first.client_sent[1];
            std::copy(other.begin() + 72, other.begin() + 168, p.begin() + 72);
            (void)second.server.receive(p, second.client_address, second.now);
            CHECK(second.server.last_drop() == Error::bad_cookie);
            CHECK_FALSE(second.server.is_established());
            return false;
        }
        return true;
    };
    // The client's retransmitted Initiate (with its own cookie) then gets through.
    REQUIRE(second.handshake());
    CHECK(swapped);
}

TEST_CASE("curvecp negative: wrong server name, bad vouch, client refused by the application") {
    {
        auto c = make_configs();
        c.client.server_name = "other.example";
        Pair pair(c);
        CHECK_FALSE(pair.handshake());
        CHECK(pair.server.last_drop() == Error::wrong_server_name);
        // The client gives up with a clear reason once initiate_timeout passed.
        CHECK(pair.client.failure() == Error::initiate_unanswered);
        CHECK(pair.client.failure() == condition::timed_out);
    }
    {
        auto c = make_configs();
        // The client claims a long-term key it cannot vouch with.
        c.client.long_term_key->public_key = fixed_key(50).public_key;
        Pair pair(c);
        CHECK_FALSE(pair.handshake());
        CHECK(pair.server.last_drop() == Error::bad_vouch);
        CHECK(pair.server.last_drop() == condition::authentication_failed);
    }
    {
        auto c = make_configs();
        std::string asked;
        c.server.validate_peer = [&](const PeerIdentity& who) -> std::error_code {
            asked = who.subject;
            return make_error_code(Errc::peer_rejected_by_application);
        };
        Pair pair(c);
        CHECK_FALSE(pair.handshake());
        CHECK(asked == to_hex(fixed_key(99).public_key));
        CHECK(pair.server.last_drop() == Error::rejected_by_application);
        CHECK_FALSE(pair.server.is_established());
    }
}

TEST_CASE("curvecp negative: malformed curvecpmessage blocks") {
    auto block = [](std::size_t size, std::uint16_t size_flags, std::uint64_t position = 0) {
        Bytes m(size, 0);
        cmsg::store_le(m.data(), 1, 4);
        if (size >= 48) {
            cmsg::store_le(m.data() + 38, size_flags, 2);
            cmsg::store_le(m.data() + 40, position, 8);
        }
        return m;
    };
    struct Bad {
        const char* name;
        Bytes message;
    };
    const Bad bad[] = {
        {"shorter than the header", block(32, 0)},
        {"not a multiple of 16", block(200, 0)},
        {"longer than 1088", block(1104, 0)},
        {"D over 1024", block(1088, 1025)},
        {"D beyond the message", block(192, 145)},
        {"both end flags", block(192, 2048 | 4096)},
        {"position wraps", block(192, 16, ~std::uint64_t{0} - 4)},
    };
    for (const auto& b : bad) {
        const std::string name = b.name;
        CAPTURE(name);
        CHECK(cmsg::parse(b.message).error() == Error::malformed_message);
        cmsg::Stream s(false);
        CHECK(s.on_message(b.message, Instant{}) == Error::malformed_message);
        CHECK(s.readable().empty());
    }
    // Range fields that wrap are refused too.
    Bytes m = block(192, 0);
    cmsg::store_le(m.data() + 8, ~std::uint64_t{0} - 1, 8);
    cmsg::store_le(m.data() + 16, 100, 4);
    CHECK(cmsg::parse(m).error() == Error::malformed_message);
    // A well-formed block is accepted, and data past the receive window is refused.
    CHECK(cmsg::parse(block(192, 128)).ok());
    cmsg::Stream s(false);
    CHECK(s.on_message(block(192, 16, cmsg::Stream::receive_window + 1), Instant{}) == Error::receive_window_exceeded);
    // Two different stream ends are a protocol violation.
    cmsg::Stream t(false);
    REQUIRE_FALSE(t.on_message(block(192, 2048 | 16, 0), Instant{}));
    CHECK(t.on_message(block(192, 2048 | 16, 100), Instant{}) == Error::malformed_message);
}

}  // namespace curvecp_negative_test
