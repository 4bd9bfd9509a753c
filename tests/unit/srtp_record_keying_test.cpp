// SrtpRecord does not know which handshake keyed it. Proof by reuse: a second,
// test-only handshake policy (keys the application holds out of band, as SDES-style
// static keying does) exports srtp::MasterKeys explicitly and keys the SAME record
// layer, SrtpRecord::layer<Crypto>, through the same interface (import), with no SRTP
// code of its own. Its packets match the reference vectors and interoperate with a
// DTLS-SRTP-keyed engine in both directions. A counting record proves that both
// engines build their media protection from the record policy they are given.
#include <doctest/doctest.h>

#include <tapsec/tapsec.hpp>

#include "support/botan_tls_fixture.hpp"
#include "support/rtp.hpp"

using namespace tapsec;
using test::rtp_packet;
using namespace std::chrono_literals;

namespace srtp_record_keying_test {

/// The second handshake's engine: no negotiation at all, the keys come from the
/// configuration. Everything SRTP is the record's layer, reached through import.
template <class Record, class Crypto>
class OutOfBandEngine {
    using Media = typename Record::template layer<Crypto>;

public:
    // A template: the handshake's Config is declared after its engine. (It does not opt in
    // to shares_config, so Secure<> hands it a Config, never a shared_ptr.)
    template <class Config>
    OutOfBandEngine(Role role, const Config& config) : role_(role), keys_(config.keys) {}

    std::error_code start(Instant) {
        auto media = Media::import(keys_, role_);
        if (!media) return media.error();
        media_.emplace(std::move(*media));
        return {};
    }
    std::error_code receive(ByteView in, const Endpoint&, Instant) {
        if (!media_) return make_error_code(Errc::not_connected);
        Bytes packet(in.begin(), in.end());
        auto n = media_->unprotect(MutableByteView(packet));
        if (!n) {
            last_drop_ = n.error();
            return {};
        }
        packet.resize(*n);
        received_.push_back(std::move(packet));
        return {};
    }
    std::optional<Transmit> poll_transmit() { return take(outgoing_, [](Bytes b) { return Transmit{std::move(b), std::nullopt}; }); }
    std::optional<Bytes> poll_application_data() { return take(received_, [](Bytes b) { return b; }); }
    std::optional<Event> poll_event() { return std::nullopt; }
    std::error_code send(ByteView in, Instant) {
        if (!media_) return make_error_code(Errc::not_connected);
        Bytes packet(in.size() + srtp::max_overhead);
        std::copy(in.begin(), in.end(), packet.begin());
        auto n = media_->protect(MutableByteView(packet), in.size());
        if (!n) return n.error();
        packet.resize(*n);
        outgoing_.push_back(std::move(packet));
        return {};
    }
    std::optional<Instant> next_timeout() const { return std::nullopt; }
    std::error_code on_timeout(Instant) { return {}; }
    std::error_code close(Instant) {
        closed_ = true;
        return {};
    }
    bool is_established() const { return media_.has_value(); }
    bool is_closed() const { return closed_; }
    SessionInfo session_info() const {
        SessionInfo info;
        info.protocol = "SRTP, keys out of band";
        return info;
    }
    std::error_code last_drop() const { return last_drop_; }

private:
    template <class F>
    static auto take(std::deque<Bytes>& q, F make) -> std::optional<decltype(make(Bytes{}))> {
        if (q.empty()) return std::nullopt;
        Bytes b = std::move(q.front());
        q.pop_front();
        return make(std::move(b));
    }

    Role role_;
    srtp::MasterKeys keys_;
    std::optional<Media> media_;
    std::deque<Bytes> outgoing_, received_;
    std::error_code last_drop_;
    bool closed_ = false;
};

/// A test-only handshake policy: explicit export of srtp::MasterKeys, which the
/// application supplies (e.g. from SDP, RFC 4568) instead of negotiating them.
struct OutOfBandKeying {
    static constexpr std::string_view name = "SRTP master keys supplied out of band (test)";
    using provides = features<>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyExport key_export = KeyExport::explicit_export;
    using exported_keys = srtp::MasterKeys;
    struct Config : CommonConfig {
        srtp::MasterKeys keys;
    };
    template <class Record, class Crypto>
    using engine = OutOfBandEngine<Record, Crypto>;
};

/// SrtpRecord with a layer that counts its imports: shows which engines key the layer
/// of the record they were given (and only through import).
template <class Crypto>
struct CountingLayer : srtp::Session<Crypto> {
    static inline int imports = 0;
    static Result<CountingLayer> import(const srtp::MasterKeys& keys, Role role) {
        ++imports;
        auto session = srtp::Session<Crypto>::import(keys, role);
        if (!session) return session.error();
        return CountingLayer(std::move(*session));
    }
    explicit CountingLayer(srtp::Session<Crypto>&& session) : srtp::Session<Crypto>(std::move(session)) {}
};
struct CountingSrtpRecord : SrtpRecord {
    template <class Crypto>
    using layer = CountingLayer<Crypto>;
};

using Provider = crypto::DefaultProvider;
using OutOfBand = Secure<OutOfBandKeying, SrtpRecord, MemoryDatagram>;
using DtlsSrtp = Secure<DtlsSrtpHandshake, SrtpRecord, Udp>::Engine;

static_assert(Composable<OutOfBandKeying, SrtpRecord, MemoryDatagram>);
static_assert(Composable<OutOfBandKeying, SrtpRecord, Udp>);
static_assert(!Composable<OutOfBandKeying, SrtpRecord, MemoryStream>, "SRTP needs datagrams, whoever keys it");
static_assert(!Composable<OutOfBandKeying, WireGuardRecord, Udp>, "srtp::MasterKeys cannot key WireGuard's record");
// Secure<> shares one configuration by pointer only with engines that opt in.
static_assert(!detail::shares_config<OutOfBand::Engine>, "a template constructor is not an opt-in");
static_assert(detail::shares_config<Secure<Tls13Handshake, AeadRecord, Tcp>::Engine>);
// Both handshakes build the very same record layer type from SrtpRecord.
static_assert(std::is_same_v<SrtpRecord::layer<Provider>, srtp::Session<Provider>>);

Bytes hex(std::string_view text) {
    Bytes out;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
    return out;
}
SecretBytes secret(std::string_view text) {
    const Bytes b = hex(text);
    return SecretBytes(b.begin(), b.end());
}

std::error_code dtls_handshake(DtlsSrtp& client, DtlsSrtp& server) {
    if (auto ec = client.start(Clock::now())) return ec;
    if (auto ec = server.start(Clock::now())) return ec;
    for (int i = 0; i < 10 && !(client.is_established() && server.is_established()); ++i) {
        if (auto ec = test::feed(server, test::drain(client), test::client_address)) return ec;
        if (auto ec = test::feed(client, test::drain(server), test::server_address)) return ec;
    }
    return client.is_established() && server.is_established() ? std::error_code{} : make_error_code(Errc::timed_out);
}


TEST_CASE("srtp record keyed out of band: libsrtp/RFC 3711 B.3 reference packets through Secure<>") {
    // libsrtp's srtp_validate: RFC 3711 B.3 master key and salt, SSRC 0xcafebabe, SEQ 0x1234.
    OutOfBandKeying::Config config;
    config.keys.profile = srtp::Profile::aes_cm_128_hmac_sha1_80;
    config.keys.client_write = {secret("e1f97a0d3e018be0d64fa32c06de4139"), secret("0ec675ad498afeebb6960b3aabe6")};
    config.keys.server_write = config.keys.client_write;
    auto [a_transport, b_transport] = MemoryDatagram::pair();
    OutOfBand sender(Role::client, config, std::move(a_transport));
    OutOfBand receiver(Role::server, config, std::move(b_transport));
    REQUIRE_FALSE(sender.handshake());
    REQUIRE_FALSE(receiver.handshake());
    const Bytes rtp = hex("800f1234decafbadcafebabeabababababababababababababababab");
    // What goes on the wire is the reference SRTP packet, byte for byte.
    auto& engine = sender.engine();
    REQUIRE_FALSE(engine.send(rtp, Clock::now()));
    auto wire = engine.poll_transmit();
    REQUIRE(wire);
    CHECK(to_hex(wire->data) == "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb");
    // And through Secure<> end to end (the next sequence number).
    Bytes next = rtp;
    next[3] = 0x35;
    REQUIRE_FALSE(sender.send(next));
    auto got = receiver.receive_message(2s);
    REQUIRE(got);
    CHECK(*got == next);
    // A tampered packet is refused by the same layer.
    wire->data[20] ^= 1;
    REQUIRE_FALSE(receiver.engine().receive(wire->data, Endpoint{}, Clock::now()));
    CHECK(receiver.engine().last_drop() == srtp::Error::authentication_failed);
}

TEST_CASE("srtp record keyed out of band interoperates with a DTLS-SRTP-keyed engine") {
    test::BotanTlsPki pki;
    REQUIRE(pki.pki.ok());
    for (std::uint16_t code : {std::uint16_t{0x0001}, std::uint16_t{0x0007}}) {  // AES-CM-128/SHA1-80, AEAD-AES-128-GCM
        CAPTURE(code);
        auto client_config = pki.client_config();
        client_config.srtp_profiles = {code};
        DtlsSrtp client(Role::client, client_config), server(Role::server, pki.server_config());
        auto ec = dtls_handshake(client, server);
        REQUIRE_MESSAGE(!ec, ec.message());
        const auto profile = *client.srtp_profile();
        // The application learns the keys out of band; here, from the DTLS client's
        // exporter, split as RFC 5764 4.2 says.
        auto material = client.export_keying_material(dtls_srtp::exporter_label, {}, srtp::MasterKeys::exporter_length(profile));
        REQUIRE(material);
        auto keys = srtp::MasterKeys::from_dtls_srtp_exporter(profile, *material);
        REQUIRE(keys);
        OutOfBandKeying::Config config;
        config.keys = *keys;
        OutOfBandKeying::engine<SrtpRecord, Provider> stand_in(Role::client, config);
        REQUIRE_FALSE(stand_in.start(Clock::now()));

        // The out-of-band-keyed client speaks to the DTLS-SRTP-keyed server...
        const Bytes voice = rtp_packet(4242, "keyed elsewhere, same record", 0x01020304);
        REQUIRE_FALSE(stand_in.send(voice, Clock::now()));
        auto to_server = stand_in.poll_transmit();
        REQUIRE(to_server);
        REQUIRE_FALSE(server.receive(to_server->data, test::client_address, Clock::now()));
        CHECK(server.poll_application_data() == voice);
        // ...and the server's media opens at the out-of-band-keyed end.
        const Bytes reply = rtp_packet(7, "and back", 0x0a0b0c0d);
        REQUIRE_FALSE(server.send(reply, Clock::now()));
        auto to_client = test::drain(server);
        REQUIRE(to_client.size() == 1);
        REQUIRE_FALSE(stand_in.receive(to_client[0], test::server_address, Clock::now()));
        CHECK(stand_in.poll_application_data() == reply);
        // The DTLS-SRTP client's own packets open at the out-of-band server side too.
        OutOfBandKeying::engine<SrtpRecord, Provider> stand_in_server(Role::server, config);
        REQUIRE_FALSE(stand_in_server.start(Clock::now()));
        const Bytes from_dtls = rtp_packet(99, "from the DTLS-SRTP client", 0x11111111);
        REQUIRE_FALSE(client.send(from_dtls, Clock::now()));
        auto datagrams = test::drain(client);
        REQUIRE(datagrams.size() == 1);
        REQUIRE_FALSE(stand_in_server.receive(datagrams[0], test::client_address, Clock::now()));
        CHECK(stand_in_server.poll_application_data() == from_dtls);
    }
}

TEST_CASE("srtp record: both handshakes key the record policy they are given, through import") {
    test::BotanTlsPki pki;
    REQUIRE(pki.pki.ok());
    CountingLayer<Provider>::imports = 0;
    using CountedDtlsSrtp = DtlsSrtpHandshake::engine<CountingSrtpRecord, Provider>;
    CountedDtlsSrtp client(Role::client, pki.client_config()), server(Role::server, pki.server_config());
    auto dtls_to_dtls = [&] {
        if (auto ec = client.start(Clock::now())) return ec;
        if (auto ec = server.start(Clock::now())) return ec;
        for (int i = 0; i < 10 && !(client.is_established() && server.is_established()); ++i) {
            if (auto ec = test::feed(server, test::drain(client), test::client_address)) return ec;
            if (auto ec = test::feed(client, test::drain(server), test::server_address)) return ec;
        }
        return client.is_established() ? std::error_code{} : make_error_code(Errc::timed_out);
    };
    REQUIRE_FALSE(dtls_to_dtls());
    CHECK(CountingLayer<Provider>::imports == 2);  // one per side, at the end of the handshake
    OutOfBandKeying::Config config;
    config.keys.profile = srtp::Profile::aead_aes_128_gcm;
    config.keys.client_write = {SecretBytes(16, 1), SecretBytes(12, 2)};
    config.keys.server_write = {SecretBytes(16, 3), SecretBytes(12, 4)};
    OutOfBandKeying::engine<CountingSrtpRecord, Provider> out_of_band(Role::server, config);
    REQUIRE_FALSE(out_of_band.start(Clock::now()));
    CHECK(CountingLayer<Provider>::imports == 3);
    // Keys the record refuses are refused whoever supplies them.
    config.keys.client_write.key.pop_back();
    OutOfBandKeying::engine<SrtpRecord, Provider> bad(Role::client, config);
    CHECK(bad.start(Clock::now()) == srtp::Error::invalid_key_length);
}

}  // namespace srtp_record_keying_test
