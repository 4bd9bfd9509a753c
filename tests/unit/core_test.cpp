// Unit tests of the shared core: byte helpers, wire reader/writer, replay window,
// feature sets, transports.
#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tapsec.hpp>

#include "support/psk_datagram.hpp"
#include "support/doc_example.hpp"

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

namespace core_test {
struct PolicyA {
    using provides = features<feature::AN, feature::MA>;
    using intrinsic = features<feature::SV>;
};

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

// ---- one error vocabulary (core/errors.hpp) ------------------------------------------


/// The enumerators of a category: every value in [1, limit) whose message is not the
/// category's "unknown" text (every describe() ends with one for values it lacks).
std::vector<int> enumerators(const std::error_category& category, int limit) {
    const std::string unknown = category.message(1'000'000);
    std::vector<int> values;
    for (int v = 1; v < limit; ++v)
        if (category.message(v) != unknown) values.push_back(v);
    return values;
}

bool is_tapsec_condition(const std::error_condition& c) {
    return c.category() == condition_category() && c.value() >= static_cast<int>(condition::authentication_failed) &&
           c.value() <= static_cast<int>(condition::internal);
}


TEST_CASE("every enumerator of every category maps to a tapsec::condition") {
    struct Category {
        const std::error_category* category;
        int limit;
        std::size_t at_least;  // guards the enumeration itself against finding nothing
    };
    const Category categories[] = {
        {&core_category(), 100, 15},
        {&tls13::error_category(), 300, 30},
        {&wireguard::category(), 100, 15},
        {&curvecp::category(), 100, 15},
        {&minimalt::category(), 100, 20},
        {&srtp::error_category(), 100, 10},
        {&dtls::dtls_category(), 100, 5},
        {&dtls_srtp::dtls_srtp_category(), 100, 3},
        {&tcpcrypt::error_category(), 100, 15},
        {&tcp_eno::error_category(), 100, 5},
        {&ikev2::make_error_code(ikev2::Error::malformed_message).category(), 100, 20},
        {&esp::make_error_code(esp::Error::malformed_packet).category(), 100, 10},
        {&tls13::peer_alert_category(), 256, 256},
        {&botan_tls::peer_alert_category(), 256, 256},
    };
    for (const Category& entry : categories) {
        // Plain variables, not structured bindings: CAPTURE's lambda reads them.
        const std::error_category* category = entry.category;
        const int limit = entry.limit;
        const std::size_t at_least = entry.at_least;
        const auto values = category == &tls13::peer_alert_category() || category == &botan_tls::peer_alert_category()
                                ? [] { std::vector<int> all; for (int v = 0; v < 256; ++v) all.push_back(v); return all; }()
                                : enumerators(*category, limit);
        CAPTURE(category->name());
        CHECK(values.size() >= at_least);
        for (int v : values) {
            const std::error_code ec(v, *category);
            CAPTURE(ec.message());
            CHECK(is_tapsec_condition(ec.default_error_condition()));
            // The mapped condition compares equal, and no other does.
            const auto mapped = static_cast<condition>(ec.default_error_condition().value());
            CHECK(ec == mapped);
            for (int c = 1; c <= static_cast<int>(condition::internal); ++c)
                if (c != static_cast<int>(mapped)) CHECK(ec != static_cast<condition>(c));
        }
    }
}

TEST_CASE("one condition across protocols: authentication failures, replays, closes") {
    CHECK(make_error_code(tls13::Error::bad_finished) == condition::authentication_failed);
    CHECK(make_error_code(tls13::Error::bad_record_mac) == condition::authentication_failed);
    CHECK(make_error_code(wireguard::Error::transport_decrypt_failed) == condition::authentication_failed);
    CHECK(make_error_code(wireguard::Error::bad_mac1) == condition::authentication_failed);
    CHECK(make_error_code(srtp::Error::authentication_failed) == condition::authentication_failed);
    CHECK(make_error_code(ikev2::Error::integrity_check_failed) == condition::authentication_failed);
    CHECK(make_error_code(esp::Error::authentication_failed) == condition::authentication_failed);
    CHECK(botan_tls::local_alert_error(Botan::TLS::Alert::BAD_RECORD_MAC) == condition::authentication_failed);
    CHECK(make_error_code(Errc::bad_record_mac) == condition::authentication_failed);
    CHECK(make_error_code(quic::Error::packet_authentication_failed) == condition::authentication_failed);

    CHECK(make_error_code(wireguard::Error::replayed_counter) == condition::replayed);
    CHECK(make_error_code(srtp::Error::replayed) == condition::replayed);
    CHECK(make_error_code(tls13::Error::early_data_replayed) == condition::replayed);
    CHECK(make_error_code(quic::Error::duplicate_packet) == condition::replayed);

    CHECK(tls13::peer_alert_error(tls13::AlertDescription::close_notify) == condition::closed);
    CHECK(tls13::peer_alert_error(tls13::AlertDescription::bad_certificate) == condition::peer_aborted);
    CHECK(botan_tls::peer_alert_error(Botan::TLS::Alert::HANDSHAKE_FAILURE) == condition::peer_aborted);
    CHECK(make_error_code(Errc::truncated) == condition::truncated);
    CHECK(make_error_code(Errc::certificate_untrusted) == condition::peer_not_trusted);
    CHECK(make_error_code(dtls::DtlsErrc::unknown_epoch) == condition::peer_misbehaved);

    // The operating system's codes, which transports pass through.
    CHECK(std::make_error_code(std::errc::connection_reset) == condition::network);
    CHECK(std::make_error_code(std::errc::timed_out) == condition::timed_out);
    CHECK(std::error_code{} != condition::network);
    // The precise code still tells the causes apart.
    CHECK(make_error_code(tls13::Error::bad_finished) != make_error_code(tls13::Error::bad_record_mac));
}

// ---- Secure<> on the allocation-free engine contract (core/engine.hpp) ----------------


/// A test-only engine with no cryptography: each send() becomes one datagram, each
/// datagram received becomes plaintext. It records which form of the contract
/// Secure<> used, and the caller's transmit buffers, so the tests can tell.
struct EngineLog {
    int owning_transmits = 0, caller_transmits = 0, owning_reads = 0, view_reads = 0;
    std::vector<const std::uint8_t*> transmit_buffers;
};
inline EngineLog engine_log;

template <bool CallerBuffer, bool Views>
struct LoopbackEngine {
    LoopbackEngine(Role, const CommonConfig&) {}
    std::error_code start(Instant) { return {}; }
    std::error_code receive(ByteView in, const Endpoint&, Instant) {
        inbox.emplace_back(in.begin(), in.end());
        return {};
    }
    std::optional<Transmit> poll_transmit() {
        if (outbox.empty()) return std::nullopt;
        ++engine_log.owning_transmits;
        Transmit t{std::move(outbox.front()), std::nullopt};
        outbox.pop_front();
        return t;
    }
    std::optional<TransmitInfo> poll_transmit(MutableByteView out) requires CallerBuffer {
        if (outbox.empty()) return std::nullopt;
        ++engine_log.caller_transmits;
        engine_log.transmit_buffers.push_back(out.data());
        const std::size_t n = outbox.front().size();
        REQUIRE(out.size() >= max_transmit_size);
        std::copy_n(outbox.front().begin(), n, out.begin());
        outbox.pop_front();
        return TransmitInfo{n, std::nullopt};
    }
    std::optional<Bytes> poll_application_data() {
        if (lent) inbox.pop_front();
        lent = false;
        if (inbox.empty()) return std::nullopt;
        ++engine_log.owning_reads;
        Bytes b = std::move(inbox.front());
        inbox.pop_front();
        return b;
    }
    std::optional<ByteView> poll_plaintext() requires Views {
        if (lent) {
            // The previous view ends now: scribble over it so a reader that kept it fails.
            std::fill(inbox.front().begin(), inbox.front().end(), std::uint8_t{0xEE});
            inbox.pop_front();
        }
        lent = false;
        if (inbox.empty()) return std::nullopt;
        ++engine_log.view_reads;
        lent = true;
        return ByteView(inbox.front());
    }
    std::optional<Event> poll_event() {
        if (events.empty()) return std::nullopt;
        Event e = events.front();
        events.pop_front();
        return e;
    }
    std::error_code send(ByteView data, Instant) {
        outbox.emplace_back(data.begin(), data.end());
        return {};
    }
    std::optional<Instant> next_timeout() { return std::nullopt; }
    std::error_code on_timeout(Instant) { return {}; }
    std::error_code close(Instant) { return {}; }
    bool is_established() const { return true; }
    bool is_closed() const { return false; }
    SessionInfo session_info() const { return {}; }

    std::deque<Bytes> outbox, inbox;
    std::deque<Event> events;
    bool lent = false;
};

struct LoopbackKeys {};
template <bool CallerBuffer, bool Views>
struct LoopbackHandshake {
    static constexpr std::string_view name = "test loopback handshake";
    using provides = features<feature::forward_secrecy>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyExport key_export = KeyExport::direct;
    using exported_keys = LoopbackKeys;
    using Config = CommonConfig;
    template <class R, class C>
    using engine = LoopbackEngine<CallerBuffer, Views>;
};
struct LoopbackRecord {
    static constexpr std::string_view name = "test loopback record";
    using provides = features<feature::record_protection>;
    static constexpr KeyImport key_import = KeyImport::direct;
    using imported_keys = LoopbackKeys;
};

template <bool CallerBuffer, bool Views>
using Loopback = Secure<LoopbackHandshake<CallerBuffer, Views>, LoopbackRecord, MemoryDatagram>;

static_assert(CallerBufferEngine<Loopback<true, true>::Engine> && ViewReceiveEngine<Loopback<true, true>::Engine>);
static_assert(!CallerBufferEngine<Loopback<false, false>::Engine> && !ViewReceiveEngine<Loopback<false, false>::Engine>);

template <bool CallerBuffer, bool Views>
void exchange_through_secure() {
    engine_log = {};
    auto [a, b] = MemoryDatagram::pair();
    Loopback<CallerBuffer, Views> sender(Role::client, {}, std::move(a));
    Loopback<CallerBuffer, Views> receiver(Role::server, {}, std::move(b));
    REQUIRE_FALSE(sender.handshake());
    REQUIRE_FALSE(receiver.handshake());
    const std::string first = "first datagram", second = "second, longer datagram";
    REQUIRE_FALSE(sender.send(as_bytes(first)));
    REQUIRE_FALSE(sender.send(as_bytes(second)));

    // A caller buffer smaller than the datagram: the rest arrives on the next call.
    std::array<std::uint8_t, 5> small{};
    auto n = receiver.receive(small, std::chrono::seconds(2));
    REQUIRE(n.ok());
    CHECK(std::string(small.begin(), small.begin() + static_cast<std::ptrdiff_t>(*n)) == "first");
    std::array<std::uint8_t, 64> rest{};
    n = receiver.receive(rest, std::chrono::seconds(2));
    REQUIRE(n.ok());
    CHECK(std::string(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(*n)) == " datagram");
    auto message = receiver.receive_message(std::chrono::seconds(2));
    REQUIRE(message.ok());
    CHECK(std::string(message->begin(), message->end()) == second);
}


TEST_CASE("Secure<> writes into its own reused buffer and reads views when the engine offers them") {
    exchange_through_secure<true, true>();
    CHECK(engine_log.owning_transmits == 0);
    CHECK(engine_log.caller_transmits == 2);
    REQUIRE(engine_log.transmit_buffers.size() == 2);
    CHECK(engine_log.transmit_buffers[0] == engine_log.transmit_buffers[1]);  // one buffer, reused
    CHECK(engine_log.owning_reads == 0);
    CHECK(engine_log.view_reads == 2);
}

TEST_CASE("Secure<> falls back to the owning form for engines without the caller-buffer members") {
    exchange_through_secure<false, false>();
    CHECK(engine_log.owning_transmits == 2);
    CHECK(engine_log.caller_transmits == 0);
    CHECK(engine_log.owning_reads == 2);
    CHECK(engine_log.view_reads == 0);
}

TEST_CASE("Secure<> bounds its event queue: a flood of drops is one event, the rest bounded and counted") {
    auto [a, b] = MemoryDatagram::pair();
    Loopback<true, true> connection(Role::client, {}, std::move(a));
    REQUIRE_FALSE(connection.handshake());
    auto& engine = connection.engine();
    const auto junk = make_error_code(dtls::DtlsErrc::malformed_record);
    const auto old_epoch = make_error_code(dtls::DtlsErrc::unknown_epoch);

    SUBCASE("a flood of drops is one pending event") {
        for (int i = 0; i < 100'000; ++i) {
            engine.events.push_back({.kind = EventKind::dropped_packet, .detail = {}, .reason = i % 100 == 99 ? old_epoch : junk});
            if (engine.events.size() > 100) REQUIRE_FALSE(connection.send(as_bytes("x")));  // Secure<> drains on every flush
        }
        REQUIRE_FALSE(connection.send(as_bytes("x")));
        std::size_t queued = 0;
        while (connection.next_event()) ++queued;
        CHECK(queued == 1);  // the engines count every drop; the application hears of the flood once
        CHECK(connection.discarded_events() == 0);
    }
    SUBCASE("past the bound, the oldest unread events make room and are counted") {
        for (int i = 1; i <= 1000; ++i)
            engine.events.push_back({.kind = EventKind::key_updated, .detail = {}, .reason = std::error_code(i, dtls::dtls_category())});
        REQUIRE_FALSE(connection.send(as_bytes("x")));
        std::size_t queued = 0;
        while (connection.next_event()) ++queued;
        CHECK(queued == Loopback<true, true>::max_queued_events);
        CHECK(connection.discarded_events() == 1000 - Loopback<true, true>::max_queued_events);
    }
}

// ---- the one list of composition rules (core/composition.hpp) -------------------------

// The concept and Secure<>'s diagnostics come from the same list: the concept holds
// exactly when no rule is broken, for real compositions and broken ones alike.
static_assert(Composable<Tls13Handshake, AeadRecord, Tcp>);
static_assert(Composable<Tls12Handshake, Tls12Record, Tcp, crypto::Botan2>);
static_assert(Composable<WireGuardHandshake, WireGuardRecord, Udp>);
static_assert(!Composable<Tls12Handshake, Tls12Record, Tcp, crypto::OpenSsl3>);
static_assert(rules::first_broken<Tls12Handshake, Tls12Record, Tcp, crypto::OpenSsl3>() ==
              rules::Id::handshake_runs_on_provider);
static_assert(rules::first_broken<Dtls12Handshake, DtlsRecord, Udp, crypto::OpenSsl3>() ==
              rules::Id::handshake_runs_on_provider);
static_assert(rules::first_broken<DtlsSrtpHandshake, SrtpRecord, Udp, crypto::OpenSsl3>() ==
              rules::Id::handshake_runs_on_provider);
static_assert(Composable<DtlsSrtpHandshake, SrtpRecord, Udp, crypto::Botan2>);
static_assert(rules::first_broken<Tls13Handshake, AeadRecord, Udp, crypto::Botan2>() == rules::Id::handshake_stream_met);
static_assert(rules::first_broken<WireGuardHandshake, SrtpRecord, Udp, crypto::Botan2>() == rules::Id::keys_same_kind);
static_assert(!Composable<Tcp, AeadRecord, Tcp>);
static_assert(KeysFlowFromHandshakeToRecord<Tls13Handshake, AeadRecord>);
static_assert(!KeysFlowFromHandshakeToRecord<WireGuardHandshake, SrtpRecord>);

TEST_CASE("composition rules: one diagnostic per rule, each distinct") {
    std::set<std::string> seen;
    for (const char* text : rules::diagnostics) {
        CAPTURE(text);
        CHECK(std::strncmp(text, "tapsec: ", 8) == 0);
        CHECK(std::strchr(text, '\n') == nullptr);
        CHECK(seen.insert(text).second);
    }
    CHECK(seen.size() == rules::count);
}

// ---- the example of docs/adding-a-protocol.md ------------------------------------------

TEST_CASE("the smallest complete protocol (docs/adding-a-protocol.md) runs through Secure<>") {
    using Psk = Secure<psk_datagram::Handshake, psk_datagram::Record, MemoryDatagram>;
    static_assert(CallerBufferEngine<Psk::Engine> && ViewReceiveEngine<Psk::Engine>);
    static_assert(rules::first_broken<psk_datagram::Handshake, psk_datagram::Record, Tcp, crypto::Botan2>() ==
                  rules::Id::handshake_datagram_met);
    static_assert(!KeysFlowFromHandshakeToRecord<psk_datagram::Handshake, AeadRecord>);

    CommonConfig config;
    config.pre_shared_keys.push_back({"example", SecretBytes(32, 7)});
    auto [a, b] = MemoryDatagram::pair();
    Psk client(Role::client, config, std::move(a)), server(Role::server, config, std::move(b));
    REQUIRE_FALSE(client.handshake());
    REQUIRE_FALSE(server.handshake());
    REQUIRE_FALSE(client.send(as_bytes("hello")));
    std::array<std::uint8_t, 64> buffer{};
    auto n = server.receive(buffer, std::chrono::seconds(1));
    REQUIRE(n.ok());
    CHECK(std::string(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n)) == "hello");

    // A datagram from a different key is dropped, counted, and reported by reason.
    CommonConfig other = config;
    other.pre_shared_keys.front().key = SecretBytes(32, 8);
    psk_datagram::Engine<psk_datagram::Record, crypto::Botan2> stranger(Role::client, other);
    REQUIRE_FALSE(stranger.send(as_bytes("first"), Clock::now()));
    REQUIRE(stranger.poll_transmit());  // counter 0, which the server has seen: it would count as a replay
    REQUIRE_FALSE(stranger.send(as_bytes("forged"), Clock::now()));
    auto forged = stranger.poll_transmit();
    REQUIRE(forged);
    REQUIRE_FALSE(server.engine().receive(forged->data, Endpoint{}, Clock::now()));
    CHECK(server.engine().dropped() == 1);
    auto event = server.next_event();
    REQUIRE(event);
    CHECK(event->reason == condition::authentication_failed);
}

TEST_CASE("docs/adding-a-protocol.md shows exactly the example the tests compile") {
    tapsec::test::check_doc_shows_file("docs/adding-a-protocol.md", "tests/support/psk_datagram.hpp");
}

}  // namespace core_test
