// The record is a real policy of tls13::Engine: a second record type, written here and
// known to no library code, is keyed by the unchanged TLS 1.3 handshake through the
// tls13::TlsRecordLayer contract (the QUIC-style per-level secret export: the handshake
// emits (level, direction, secret), the record imports it).
//
// LoggingRecord's layer forwards to the real RecordLayer and logs every key it is given.
// A full handshake (external PSK, psk_ke), data both ways, a KeyUpdate each way and a
// clean close run through Secure<Tls13Handshake, LoggingRecord, TappedStream>; then the
// test derives every traffic secret itself from the PSK and the bytes that crossed the
// wire (it opens the server's encrypted flight with the handshake secret it derived) and
// compares them with the log, level by level, direction by direction, generation by
// generation.
#include <doctest/doctest.h>

#include <future>
#include <memory>

#include <tapsec/tapsec.hpp>
#include <tapsec/transport/memory.hpp>

using namespace tapsec;
using namespace tapsec::tls13;

namespace tls13_engine_record_policy_test {

struct InstalledKey {
    Epoch level;
    Direction direction;
    const CipherSuite* suite;
    SecretBytes secret;
};

/// The real record layer underneath; every key it is given is logged on the way.
template <class Crypto>
class LoggingLayer {
public:
    using Options = typename RecordLayer<Crypto>::Options;
    explicit LoggingLayer(Options options) : inner_(options) {}

    std::error_code install_key(Epoch level, Direction direction, const TrafficSecret& secret) {
        log_.push_back({level, direction, secret.suite, secret.secret});
        return inner_.install_key(level, direction, secret);
    }
    std::error_code write(ContentType type, ByteView data, Bytes& out, std::uint16_t legacy_version) {
        return inner_.write(type, data, out, legacy_version);
    }
    std::error_code feed(ByteView data) { return inner_.feed(data); }
    Result<std::optional<Plaintext>> next() { return inner_.next(); }
    std::error_code set_send_record_size_limit(std::uint16_t limit) { return inner_.set_send_record_size_limit(limit); }
    std::error_code set_receive_record_size_limit(std::uint16_t limit) {
        return inner_.set_receive_record_size_limit(limit);
    }
    bool take_key_expiring() { return inner_.take_key_expiring(); }

    const std::vector<InstalledKey>& log() const { return log_; }

private:
    RecordLayer<Crypto> inner_;
    std::vector<InstalledKey> log_;
};

/// A record policy of the test's own: same key interface as AeadRecord.
struct LoggingRecord {
    static constexpr std::string_view name = "TLS 1.3 record that logs its keys (test)";
    using provides = AeadRecord::provides;
    using needs = AeadRecord::needs;
    using imported_keys = TrafficSecrets;
    static constexpr KeyImport key_import = KeyImport::direct;
    template <class Crypto = crypto::DefaultProvider>
    using layer = LoggingLayer<Crypto>;
};

static_assert(TlsRecordLayer<LoggingLayer<crypto::DefaultProvider>>);

/// MemoryStream that keeps a copy of everything its end wrote.
class TappedStream {
public:
    [[maybe_unused]] static constexpr std::string_view name = "MemoryStream (tapped)";
    using offers = MemoryStream::offers;
    using provides = features<>;

    TappedStream(MemoryStream inner, std::shared_ptr<Bytes> written) : inner_(std::move(inner)), written_(std::move(written)) {}
    Result<std::size_t> read_some(MutableByteView out, Instant deadline) { return inner_.read_some(out, deadline); }
    std::error_code write_all(ByteView data) {
        append(*written_, data);
        return inner_.write_all(data);
    }
    void close() { inner_.close(); }
    Endpoint peer_endpoint() const { return inner_.peer_endpoint(); }

private:
    MemoryStream inner_;
    std::shared_ptr<Bytes> written_;
};

using Logged = Secure<Tls13Handshake, LoggingRecord, TappedStream>;
static_assert(std::is_same_v<Logged::Engine::Layer, LoggingLayer<crypto::DefaultProvider>>);

/// Handshake messages of one direction of the wire, read with keys the test installs.
class WireReader {
public:
    explicit WireReader(const Bytes& wire) { REQUIRE_FALSE(layer_.feed(wire)); }

    /// The next whole handshake message (4-byte header included), skipping CCS records.
    Bytes next_message() {
        for (;;) {
            if (buffered_.size() >= 4) {
                const std::size_t length = std::size_t{buffered_[1]} << 16 | std::size_t{buffered_[2]} << 8 | buffered_[3];
                if (buffered_.size() >= 4 + length) {
                    Bytes m(buffered_.begin(), buffered_.begin() + static_cast<std::ptrdiff_t>(4 + length));
                    buffered_.erase(buffered_.begin(), buffered_.begin() + static_cast<std::ptrdiff_t>(4 + length));
                    return m;
                }
            }
            auto record = layer_.next();
            REQUIRE(record.ok());
            REQUIRE(record->has_value());
            if ((*record)->type == ContentType::change_cipher_spec) continue;
            REQUIRE((*record)->type == ContentType::handshake);
            append(buffered_, (*record)->data);
        }
    }
    void install_read(const TrafficSecret& secret) {
        REQUIRE(buffered_.empty());  // keys change on a record boundary
        REQUIRE_FALSE(layer_.install_read(secret));
    }

private:
    RecordLayer<> layer_;
    Bytes buffered_;
};

void check_sequence(const std::vector<InstalledKey>& log, Direction direction,
                    const std::vector<std::pair<Epoch, const TrafficSecret*>>& expected) {
    std::vector<const InstalledKey*> got;
    for (const auto& k : log)
        if (k.direction == direction) got.push_back(&k);
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i);
        CHECK(got[i]->level == expected[i].first);
        CHECK(got[i]->suite == expected[i].second->suite);
        CHECK(got[i]->secret == expected[i].second->secret);
    }
}

/// In each direction, every handshake-level key came before the first application-level
/// one. (Across directions a server may install its application write key before its
/// handshake read key: it can send 0.5-RTT data before the client's Finished.)
bool levels_in_order(const std::vector<InstalledKey>& log) {
    for (const Direction direction : {Direction::read, Direction::write}) {
        bool application_seen = false;
        for (const auto& k : log) {
            if (k.direction != direction) continue;
            if (k.level == Epoch::application) application_seen = true;
            else if (application_seen) return false;
        }
    }
    return true;
}

std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }


TEST_CASE("tls13 engine: a test-only record policy is keyed by the unchanged handshake, secrets checked independently") {
    for (const std::string suite_name : {"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"}) {
        CAPTURE(suite_name);
        const SecretBytes psk(32, 0x5a);
        tls13::Config client_config, server_config;
        for (auto* c : {&client_config, &server_config}) {
            c->pre_shared_keys.push_back({"logging-record-test", psk});
            c->psk_only_key_exchange = true;  // psk_ke: the whole key schedule follows from the PSK and the transcript
            c->cipher_suites = {suite_name};
        }
        client_config.server_name = "localhost";

        auto [a, b] = MemoryStream::pair();
        auto client_wire = std::make_shared<Bytes>();
        auto server_wire = std::make_shared<Bytes>();
        Logged client(Role::client, client_config, TappedStream(std::move(a), client_wire));
        Logged server(Role::server, server_config, TappedStream(std::move(b), server_wire));
        auto server_done = std::async(std::launch::async, [&] { return server.handshake(); });
        const auto client_result = client.handshake();
        const auto server_result = server_done.get();
        REQUIRE_MESSAGE(!client_result, client_result.message());
        REQUIRE_MESSAGE(!server_result, server_result.message());
        CHECK(client.info().group.empty());  // psk_ke: no (EC)DHE share
        CHECK(client.info().cipher_suite == suite_name);

        // The secrets, derived by the test from the PSK and the wire (before any KeyUpdate
        // traffic is added to the tapped bytes, only handshake records are read).
        const CipherSuite* suite = find_cipher_suite(std::string_view(suite_name));
        REQUIRE(suite);
        WireReader from_client(*client_wire), from_server(*server_wire);
        const Bytes client_hello = from_client.next_message();
        REQUIRE(client_hello[0] == static_cast<std::uint8_t>(HandshakeType::client_hello));
        const Bytes server_hello = from_server.next_message();
        REQUIRE(server_hello[0] == static_cast<std::uint8_t>(HandshakeType::server_hello));
        Bytes transcript = client_hello;
        append(transcript, server_hello);
        auto handshake_secret = EarlySecret<>::with_psk(*suite, psk).into_handshake({});
        const auto transcript_hash = [&] { return crypto::DefaultProvider::hash(suite->hash, transcript); };
        const TrafficSecret chts = handshake_secret.client_handshake_traffic_secret(transcript_hash());
        const TrafficSecret shts = handshake_secret.server_handshake_traffic_secret(transcript_hash());
        // The server's encrypted flight, opened with the secret the test derived itself.
        from_server.install_read(shts);
        for (;;) {
            const Bytes m = from_server.next_message();
            append(transcript, m);
            if (m[0] == static_cast<std::uint8_t>(HandshakeType::finished)) break;
            CHECK(m[0] != static_cast<std::uint8_t>(HandshakeType::certificate));  // PSK: no certificate
        }
        auto master = std::move(handshake_secret).into_master();
        const TrafficSecret cats0 = master.client_application_traffic_secret(transcript_hash());
        const TrafficSecret sats0 = master.server_application_traffic_secret(transcript_hash());
        const TrafficSecret cats1 = next_traffic_secret<>(cats0);
        const TrafficSecret sats1 = next_traffic_secret<>(sats0);

        // Data, then a KeyUpdate asking the peer to update too, data again, a clean close.
        REQUIRE_FALSE(client.send(as_bytes("before the update")));
        auto got = server.receive_message(std::chrono::seconds(5));
        REQUIRE(got.ok());
        CHECK(text(*got) == "before the update");
        REQUIRE_FALSE(client.update_keys(true));
        REQUIRE_FALSE(client.send(as_bytes("after the update")));
        got = server.receive_message(std::chrono::seconds(5));
        REQUIRE(got.ok());
        CHECK(text(*got) == "after the update");
        REQUIRE_FALSE(server.send(as_bytes("reply under the server's next key")));
        got = client.receive_message(std::chrono::seconds(5));
        REQUIRE(got.ok());
        CHECK(text(*got) == "reply under the server's next key");
        CHECK_FALSE(client.close());
        auto end = server.receive_message(std::chrono::seconds(5));
        REQUIRE(end.ok());
        CHECK(end->empty());
        // The server answered our close_notify with its own (6.1): a clean end here too.
        end = client.receive_message(std::chrono::seconds(5));
        REQUIRE_MESSAGE(end.ok(), end.error().message());
        CHECK(end->empty());

        const auto& client_log = client.engine().record_layer().log();
        const auto& server_log = server.engine().record_layer().log();
        CHECK(levels_in_order(client_log));
        CHECK(levels_in_order(server_log));
        check_sequence(client_log, Direction::write,
                       {{Epoch::handshake, &chts}, {Epoch::application, &cats0}, {Epoch::application, &cats1}});
        check_sequence(client_log, Direction::read,
                       {{Epoch::handshake, &shts}, {Epoch::application, &sats0}, {Epoch::application, &sats1}});
        check_sequence(server_log, Direction::read,
                       {{Epoch::handshake, &chts}, {Epoch::application, &cats0}, {Epoch::application, &cats1}});
        check_sequence(server_log, Direction::write,
                       {{Epoch::handshake, &shts}, {Epoch::application, &sats0}, {Epoch::application, &sats1}});
    }
}

// ---- the engine's allocation-free data path and its clean close --------------------------


using Engine = tls13::Engine<AeadRecord, crypto::DefaultProvider>;

/// Moves everything `from` queued to `to` through a caller-owned buffer of `chunk` bytes.
void shuttle(Engine& from, Engine& to, std::size_t chunk = max_transmit_size) {
    Bytes buffer(chunk);
    while (auto t = from.poll_transmit(MutableByteView(buffer))) {
        REQUIRE(t->size > 0);
        REQUIRE(t->size <= chunk);
        REQUIRE_FALSE(to.receive(ByteView(buffer.data(), t->size), Endpoint{}, Instant{}));
    }
}

std::pair<Engine, Engine> connected_pair() {
    tls13::Config config;
    config.pre_shared_keys.push_back({"engine-test", SecretBytes(32, 0x33)});
    config.server_name = "localhost";
    Engine client(Role::client, config), server(Role::server, config);
    REQUIRE_FALSE(client.start(Instant{}));
    for (int i = 0; i < 8 && !(client.is_established() && server.is_established()); ++i) {
        shuttle(client, server);
        shuttle(server, client);
    }
    REQUIRE(client.is_established());
    REQUIRE(server.is_established());
    shuttle(server, client);  // the session ticket
    return {std::move(client), std::move(server)};
}

std::string view_text(std::optional<ByteView> v) { return v ? std::string(v->begin(), v->end()) : "<none>"; }


TEST_CASE("tls13 engine: caller-buffer poll_transmit and view poll_plaintext") {
    auto [client, server] = connected_pair();

    SUBCASE("a buffer smaller than the queued records gets them in order, over several calls") {
        REQUIRE_FALSE(client.send(as_bytes("first record"), Instant{}));
        REQUIRE_FALSE(client.send(as_bytes("second record"), Instant{}));
        shuttle(client, server, 7);
        CHECK(view_text(server.poll_plaintext()) == "first record");
        CHECK(view_text(server.poll_plaintext()) == "second record");
        CHECK_FALSE(server.poll_plaintext());
    }
    SUBCASE("plaintext not polled before the next receive is kept, in order, for both poll forms") {
        REQUIRE_FALSE(client.send(as_bytes("one"), Instant{}));
        shuttle(client, server);
        REQUIRE_FALSE(client.send(as_bytes("two"), Instant{}));
        REQUIRE_FALSE(client.send(as_bytes("three"), Instant{}));
        shuttle(client, server);  // a second receive before any poll: "one" must survive it
        auto owned = server.poll_application_data();
        REQUIRE(owned);
        CHECK(text(*owned) == "one");
        CHECK(view_text(server.poll_plaintext()) == "two");
        REQUIRE_FALSE(client.send(as_bytes("four"), Instant{}));
        shuttle(client, server);  // "three" is still unpolled
        CHECK(view_text(server.poll_plaintext()) == "three");
        CHECK(view_text(server.poll_plaintext()) == "four");
        CHECK_FALSE(server.poll_plaintext());
        CHECK_FALSE(server.poll_application_data());
    }
    SUBCASE("a record larger than one TLS record comes out as several views, nothing lost") {
        Bytes big(40000);
        for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
        REQUIRE_FALSE(client.send(big, Instant{}));
        shuttle(client, server, 1000);
        Bytes joined;
        while (auto v = server.poll_plaintext()) append(joined, *v);
        CHECK(joined == big);
    }
    SUBCASE("the owning poll_transmit still hands everything over") {
        REQUIRE_FALSE(client.send(as_bytes("owned"), Instant{}));
        auto t = client.poll_transmit();
        REQUIRE(t);
        CHECK_FALSE(client.poll_transmit());
        REQUIRE_FALSE(server.receive(t->data, Endpoint{}, Instant{}));
        CHECK(view_text(server.poll_plaintext()) == "owned");
    }
}

TEST_CASE("tls13 engine: a close_notify received is answered with our own (RFC 8446 6.1)") {
    auto [client, server] = connected_pair();
    REQUIRE_FALSE(client.send(as_bytes("last words"), Instant{}));
    REQUIRE_FALSE(client.close(Instant{}));
    shuttle(client, server);
    // Data sent before the close is still delivered, then the end is clean.
    CHECK(view_text(server.poll_plaintext()) == "last words");
    CHECK(server.is_closed());
    bool peer_closed_event = false;
    while (auto e = server.poll_event()) peer_closed_event |= e->kind == EventKind::peer_closed;
    CHECK(peer_closed_event);
    // The answer waits until the data before the close is all taken (the application may
    // still reply to it: a half-close); the poll that finds nothing more queues it.
    CHECK_FALSE(server.poll_plaintext());
    // The server's answer is now queued; its write side is closed.
    CHECK(server.send(as_bytes("too late"), Instant{}) == make_error_code(Errc::closed));
    CHECK_FALSE(server.close(Instant{}));  // nothing more to send: it already did
    shuttle(server, client);
    CHECK(client.is_closed());
    // A second close_notify would have been a record after the close: the client saw one.
    auto more = server.poll_transmit();
    CHECK_FALSE(more);
    // And the client's end of stream after it is not a truncation.
    CHECK_FALSE(client.receive(ByteView{}, Endpoint{}, Instant{}));
}

// ---- RFC 8446 5.1 and 6.2 on post-handshake messages, record by record -----------------
//
// The client's application write secret is taken from its LoggingLayer; the test seals
// records of its own choosing under it (continuing the client's sequence numbers) and
// feeds them to the server, so any record sequence a peer could send can be tried.


using LoggedEngine = tls13::Engine<LoggingRecord, crypto::DefaultProvider>;

struct ForgedRecordCase {
    const char* name;
    // (type, payload) records sealed in order under the client's application key
    std::vector<std::pair<ContentType, Bytes>> records;
    std::error_code expected;
    AlertDescription alert;
};

Bytes key_update_body(std::initializer_list<std::uint8_t> body) {
    Bytes m{static_cast<std::uint8_t>(HandshakeType::key_update), 0, 0, static_cast<std::uint8_t>(body.size())};
    for (const std::uint8_t b : body) m.push_back(b);  // (insert of an empty list trips GCC 12's -Warray-bounds)
    return m;
}


TEST_CASE("tls13 engine: post-handshake records checked per class (5.1 interleaving, 6.2 alert classes)") {
    const Bytes key_update = key_update_body({0});  // update_not_requested
    const Bytes head(key_update.begin(), key_update.begin() + 2), tail(key_update.begin() + 2, key_update.end());
    const std::uint8_t user_canceled[] = {1, 90};
    const std::uint8_t ccs[] = {1};
    Bytes key_update_then_partial = key_update;  // a key change with bytes of the next message behind it
    key_update_then_partial.push_back(static_cast<std::uint8_t>(HandshakeType::key_update));
    const std::vector<ForgedRecordCase> cases = {
        {"application data between the fragments of a KeyUpdate",
         {{ContentType::handshake, head}, {ContentType::application_data, Bytes{'x'}}, {ContentType::handshake, tail}},
         make_error_code(Error::interleaved_record), AlertDescription::unexpected_message},
        {"an alert between the fragments of a KeyUpdate",
         {{ContentType::handshake, head}, {ContentType::alert, Bytes(user_canceled, user_canceled + 2)}},
         make_error_code(Error::interleaved_record), AlertDescription::unexpected_message},
        {"a change_cipher_spec between the fragments of a KeyUpdate",
         {{ContentType::handshake, head}, {ContentType::change_cipher_spec, Bytes(ccs, ccs + 1)}},
         make_error_code(Error::interleaved_record), AlertDescription::unexpected_message},
        {"a key change not on a record boundary",
         {{ContentType::handshake, key_update_then_partial}},
         make_error_code(Error::unexpected_handshake_message), AlertDescription::unexpected_message},
        {"KeyUpdate with an empty body", {{ContentType::handshake, key_update_body({})}},
         make_error_code(Error::malformed_handshake_message), AlertDescription::decode_error},
        {"KeyUpdate with a two-byte body", {{ContentType::handshake, key_update_body({0, 0})}},
         make_error_code(Error::malformed_handshake_message), AlertDescription::decode_error},
        {"KeyUpdate with an undefined request value", {{ContentType::handshake, key_update_body({2})}},
         make_error_code(Error::invalid_key_update), AlertDescription::illegal_parameter},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        tls13::Config config;
        config.pre_shared_keys.push_back({"forged-record-test", SecretBytes(32, 0x44)});
        config.server_name = "localhost";
        LoggedEngine client(Role::client, config), server(Role::server, config);
        REQUIRE_FALSE(client.start(Instant{}));
        Bytes buffer(max_transmit_size);
        auto move_all = [&](LoggedEngine& from, LoggedEngine& to) {
            while (auto t = from.poll_transmit(MutableByteView(buffer)))
                REQUIRE_FALSE(to.receive(ByteView(buffer.data(), t->size), Endpoint{}, Instant{}));
        };
        for (int i = 0; i < 8 && !(client.is_established() && server.is_established()); ++i) {
            move_all(client, server);
            move_all(server, client);
        }
        REQUIRE(server.is_established());
        move_all(server, client);  // the session ticket

        const InstalledKey* client_write = nullptr;
        for (const auto& k : client.record_layer().log())
            if (k.direction == Direction::write && k.level == Epoch::application) client_write = &k;
        REQUIRE(client_write);
        RecordLayer<> forger(RecordLayer<>::Options{});
        REQUIRE_FALSE(forger.install_key(Epoch::application, Direction::write,
                                         TrafficSecret{client_write->suite, client_write->secret}));
        Bytes wire;
        for (const auto& [type, payload] : c.records) REQUIRE_FALSE(forger.write(type, payload, wire));

        CHECK(server.receive(wire, Endpoint{}, Instant{}) == c.expected);
        CHECK(alert_for(static_cast<Error>(c.expected.value())) == c.alert);
        CHECK(server.poll_plaintext() == std::nullopt);  // nothing interleaved reached the application
        // The alert the server sent is the one 6.2 names for the class.
        auto sent = server.poll_transmit(MutableByteView(buffer));
        REQUIRE(sent);
        CHECK(client.receive(ByteView(buffer.data(), sent->size), Endpoint{}, Instant{}) == peer_alert_error(c.alert));
    }
}

TEST_CASE("tls13 handshake: a Finished of the wrong length is decode_error, a wrong verify_data decrypt_error") {
    tls13::Config config;
    config.pre_shared_keys.push_back({"finished-length-test", SecretBytes(32, 0x55)});
    config.server_name = "localhost";
    struct Case {
        const char* name;
        std::function<void(Bytes&)> alter;  // on the Finished message, header included
        Error expected;
    };
    auto set_length = [](Bytes& m) {
        const std::size_t n = m.size() - 4;
        m[1] = static_cast<std::uint8_t>(n >> 16), m[2] = static_cast<std::uint8_t>(n >> 8), m[3] = static_cast<std::uint8_t>(n);
    };
    const std::vector<Case> cases = {
        {"empty", [&](Bytes& m) { m.resize(4), set_length(m); }, Error::malformed_handshake_message},
        {"truncated", [&](Bytes& m) { m.pop_back(), set_length(m); }, Error::malformed_handshake_message},
        {"padded", [&](Bytes& m) { m.push_back(0), set_length(m); }, Error::malformed_handshake_message},
        {"right length, wrong value", [](Bytes& m) { m.back() ^= 1; }, Error::bad_finished},
    };
    for (const bool server_finished : {true, false})
        for (const auto& c : cases) {
            CAPTURE(c.name);
            CAPTURE(server_finished);
            ClientHandshake<crypto::DefaultProvider> client(config);
            ServerHandshake<crypto::DefaultProvider> server(config);
            REQUIRE_FALSE(server.start());
            REQUIRE_FALSE(client.start({}));
            std::error_code failure;
            bool failed_at_client = false;
            for (int round = 0; round < 10 && !failure; ++round)
                for (const bool from_server : {false, true}) {
                    HandshakeCommon<crypto::DefaultProvider>& sender =
                        from_server ? static_cast<HandshakeCommon<crypto::DefaultProvider>&>(server) : client;
                    while (auto a = sender.poll_action()) {
                        if (a->kind != Action::Kind::send || failure) continue;
                        Bytes m = a->message;
                        if (m[0] == static_cast<std::uint8_t>(HandshakeType::finished) && from_server == server_finished) c.alter(m);
                        MessageBuffer messages;
                        messages.add(m);
                        auto raw = messages.next();
                        REQUIRE(raw.ok());
                        REQUIRE(raw->has_value());
                        failure = from_server ? client.handle(**raw) : server.handle(**raw);
                        failed_at_client = from_server;
                    }
                    if (failure) break;
                }
            CHECK(failure == make_error_code(c.expected));
            CHECK(failed_at_client == server_finished);
            CHECK(alert_for(c.expected) == (c.expected == Error::bad_finished ? AlertDescription::decrypt_error
                                                                               : AlertDescription::decode_error));
        }
}

}  // namespace tls13_engine_record_policy_test
