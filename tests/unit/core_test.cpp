// Unit tests of the shared core: byte helpers, wire reader/writer, replay window,
// feature sets, transports.
#include <doctest/doctest.h>

#include <thread>

#include <tapsec/tapsec.hpp>

using namespace tapsec;

TEST_CASE("hex round trip and malformed hex") {
    bool ok = false;
    auto b = from_hex("00 01 fe FF", &ok);
    CHECK(ok);
    CHECK(to_hex(b) == "0001feff");
    from_hex("abc", &ok);
    CHECK_FALSE(ok);
    from_hex("zz", &ok);
    CHECK_FALSE(ok);
}

TEST_CASE("constant_time_equal") {
    Bytes a{1, 2, 3}, b{1, 2, 3}, c{1, 2, 4};
    CHECK(constant_time_equal(a, b));
    CHECK_FALSE(constant_time_equal(a, c));
    CHECK_FALSE(constant_time_equal(a, Bytes{1, 2}));
}

TEST_CASE("wire reader never reads past its input") {
    Bytes data{0x00, 0x03, 'a', 'b'};
    wire::Reader r(data);
    auto v = r.prefixed(2);
    CHECK_FALSE(r.ok());
    CHECK(v.empty());
    CHECK(r.remaining() == 0);

    Bytes good{0x00, 0x02, 'a', 'b', 0x01};
    wire::Reader r2(good);
    CHECK(r2.prefixed(2).size() == 2);
    CHECK(r2.u8() == 1);
    CHECK(r2.at_end());
}

TEST_CASE("wire writer back-patches nested lengths") {
    Bytes out;
    wire::Writer w(out);
    auto outer = w.begin_prefixed(2);
    auto inner = w.begin_prefixed(1);
    w.bytes(as_bytes("xyz"));
    w.end_prefixed(inner, 1);
    w.end_prefixed(outer, 2);
    CHECK(to_hex(out) == "000403" + to_hex(as_bytes("xyz")));
}

TEST_CASE("replay window: fresh, replayed, too old, reordered") {
    ReplayWindow<2048> w;
    CHECK(w.check(0) == ReplayVerdict::fresh);
    CHECK(w.commit(0));
    CHECK(w.check(0) == ReplayVerdict::replayed);
    CHECK_FALSE(w.commit(0));
    CHECK(w.commit(5));
    CHECK(w.commit(3));  // out of order but inside the window
    CHECK(w.check(3) == ReplayVerdict::replayed);
    CHECK(w.commit(10'000));
    CHECK(w.check(10'000 - ReplayWindow<2048>::size) == ReplayVerdict::too_old);
    CHECK(w.check(10'000 - ReplayWindow<2048>::size + 1) == ReplayVerdict::fresh);
    // every packet in a reordered burst accepted exactly once
    ReplayWindow<2048> v;
    int accepted = 0;
    for (std::uint64_t i = 0; i < 4000; i += 2) accepted += v.commit(i);
    for (std::uint64_t i = 1; i < 4000; i += 2) accepted += v.commit(i);
    for (std::uint64_t i = 0; i < 4000; ++i) accepted += v.commit(i);
    // odd ones more than `size` behind the highest even (3998) are refused
    int odd_inside = 0;
    for (std::uint64_t i = 1; i < 4000; i += 2) odd_inside += (i > 3998 || 3998 - i < ReplayWindow<2048>::size);
    CHECK(odd_inside == 993);
    CHECK(accepted == 2000 + odd_inside);
}

TEST_CASE("replay window: a large jump clears stale bits") {
    ReplayWindow<128> w;
    for (std::uint64_t i = 0; i < 64; ++i) CHECK(w.commit(i));
    CHECK(w.commit(1'000'000));
    CHECK(w.check(1'000'000 - 1) == ReplayVerdict::fresh);
    CHECK(w.commit(1'000'000 - 1));
}

namespace {
struct PolicyA {
    using provides = features<feature::AN, feature::MA>;
    using intrinsic = features<feature::SV>;
};
}  // namespace

TEST_CASE("feature sets fold from Hana sets") {
    constexpr auto f = declared_features<PolicyA>();
    static_assert(f.has<feature::AN>());
    static_assert(f.has<feature::SV>());
    static_assert(!f.has<feature::ED>());
    static_assert(f.availability<feature::SV>() == Availability::mandatory);
    static_assert(f.availability<feature::MA>() == Availability::supported);
    static_assert(f.availability<feature::CM>() == Availability::unsupported);
}

TEST_CASE("MemoryStream moves bytes both ways and reports end of stream") {
    auto [a, b] = MemoryStream::pair();
    CHECK_FALSE(a.write_all(as_bytes("hello")));
    std::array<std::uint8_t, 3> buf{};
    auto n = b.read_some(buf, Clock::now() + std::chrono::seconds(1));
    REQUIRE(n.ok());
    CHECK(*n == 3);
    n = b.read_some(buf, Clock::now() + std::chrono::seconds(1));
    CHECK(*n == 2);
    n = b.read_some(buf, Clock::now() + std::chrono::milliseconds(10));
    CHECK(n.error() == make_error_code(Errc::timed_out));
    a.close();
    n = b.read_some(buf, Clock::now() + std::chrono::seconds(1));
    CHECK(*n == 0);
}

TEST_CASE("MemoryDatagram impairments are seeded and bounded") {
    auto [a, b] = MemoryDatagram::pair({.loss = 0.2, .reorder = 0.1, .duplicate = 0.1, .seed = 7});
    for (int i = 0; i < 1000; ++i) {
        std::array<std::uint8_t, 2> d{static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
        CHECK_FALSE(a.send_to(d, {}));
    }
    int received = 0, out_of_order = 0, last = -1;
    std::array<std::uint8_t, 64> buf{};
    Endpoint from;
    for (;;) {
        auto n = b.receive_from(buf, Clock::now() + std::chrono::milliseconds(20), from);
        if (!n) break;
        int v = buf[0] << 8 | buf[1];
        if (v < last) ++out_of_order;
        last = v;
        ++received;
    }
    CHECK(received > 700);
    CHECK(received < 1000);
    CHECK(out_of_order > 10);
}

TEST_CASE("Tcp and Udp on IPv4 and IPv6 loopback") {
    for (const char* host : {"127.0.0.1", "::1"}) {
        CAPTURE(host);
        auto listener = TcpListener::bind(host, 0);
        REQUIRE(listener.ok());
        const auto port = listener->port();
        std::thread server([&] {
            auto c = listener->accept(std::chrono::seconds(5));
            REQUIRE(c.ok());
            std::array<std::uint8_t, 16> buf{};
            auto n = c->read_some(buf, Clock::now() + std::chrono::seconds(5));
            REQUIRE(n.ok());
            CHECK_FALSE(c->write_all(ByteView(buf.data(), *n)));
        });
        auto client = Tcp::connect(host, port);
        REQUIRE(client.ok());
        CHECK_FALSE(client->write_all(as_bytes("ping")));
        std::array<std::uint8_t, 16> buf{};
        auto n = client->read_some(buf, Clock::now() + std::chrono::seconds(5));
        REQUIRE(n.ok());
        CHECK(*n == 4);
        server.join();

        auto u1 = Udp::bind(host, 0);
        REQUIRE(u1.ok());
        auto to = Endpoint::parse(host, u1->local_port());
        REQUIRE(to.has_value());
        auto u2 = Udp::connect(*to);
        REQUIRE(u2.ok());
        CHECK_FALSE(u2->send_to(as_bytes("dgram"), u2->peer_endpoint()));
        Endpoint from;
        auto got = u1->receive_from(buf, Clock::now() + std::chrono::seconds(5), from);
        REQUIRE(got.ok());
        CHECK(*got == 5);
        CHECK(from.port() == u2->local_port());
    }
}

TEST_CASE("Tcp connect to a closed port is a refused connection") {
    auto port = tapsec::TcpListener::bind("127.0.0.1", 0)->port();  // listener closes at end of statement
    auto c = Tcp::connect("127.0.0.1", port, std::chrono::seconds(2));
    CHECK(c.error() == make_error_code(Errc::connection_refused));
}

TEST_CASE("Endpoint parsing") {
    CHECK(Endpoint::parse("127.0.0.1:443")->to_string() == "127.0.0.1:443");
    CHECK(Endpoint::parse("[::1]:8443")->to_string() == "[::1]:8443");
    CHECK_FALSE(Endpoint::parse("::1:80").has_value());
    CHECK_FALSE(Endpoint::parse("127.0.0.1:99999").has_value());
    CHECK_FALSE(Endpoint::parse("nonsense").has_value());
}
