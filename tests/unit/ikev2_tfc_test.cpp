// TFC padding (RFC 4303 2.4, 2.7; survey: length-hiding padding, LHP) in ESP and its
// negotiation in IKEv2, table-driven: the padded length each mode gives, the mode
// strings the CLI takes, the ESP packet sizes each algorithm makes of padded payloads
// (the receiver recovering the inner packet by its IP header's length), the sizes an
// observer sees on the wire between two engines, and N(ESP_TFC_PADDING_NOT_SUPPORTED)
// (RFC 7296 3.10.1) switching padding off for the Child SA it came with, in IKE_AUTH
// and in a Child SA rekey. Every case runs on both providers (support/providers.hpp).
#include "support/providers.hpp"

#include <set>

#include <tapsec/ikev2.hpp>
#include <tapsec/tapsec.hpp>

#include "support/ikev2_ip.hpp"
#include "support/ikev2_pair.hpp"

using namespace tapsec;
using esp::TfcPadding;
using ikev2_test::ipv4;
using ikev2_test::udp_packet;
using ikev2_test::udp_payload;

TEST_CASE("esp tfc: the padded length of each mode (table)") {
    struct Row {
        TfcPadding mode;
        std::size_t inner, padded;
    };
    const Row rows[] = {
        {TfcPadding::off(), 0, 0},          {TfcPadding::off(), 28, 28},            {TfcPadding::off(), 1400, 1400},
        {TfcPadding::bucket(256), 1, 256},  {TfcPadding::bucket(256), 255, 256},    {TfcPadding::bucket(256), 256, 256},
        {TfcPadding::bucket(256), 257, 512}, {TfcPadding::bucket(256), 0, 256},     {TfcPadding::bucket(1), 77, 77},
        {TfcPadding::bucket(1500), 28, 1500}, {TfcPadding::bucket(1500), 1501, 3000},
        {TfcPadding::bucket(40000), 40001, 65535},  // never beyond what an IP length can say
        {TfcPadding::fixed(1200), 28, 1200}, {TfcPadding::fixed(1200), 1199, 1200}, {TfcPadding::fixed(1200), 1200, 1200},
        {TfcPadding::fixed(1200), 1201, 1201},  // longer than N: sent as it is
        {TfcPadding::fixed(1200), 0, 1200},     {TfcPadding::fixed(65535), 65535, 65535},
    };
    for (const auto& row : rows) {
        CAPTURE(row.mode.to_string());
        CAPTURE(row.inner);
        CHECK(row.mode.padded_length(row.inner) == row.padded);
    }
}

TEST_CASE("esp tfc: the mode strings of --tfc-padding (table)") {
    struct Row {
        const char* text;
        std::optional<TfcPadding> parsed;
    };
    const Row rows[] = {
        {"off", TfcPadding::off()},           {"bucket:256", TfcPadding::bucket(256)}, {"fixed:1200", TfcPadding::fixed(1200)},
        {"bucket:1", TfcPadding::bucket(1)},  {"fixed:65535", TfcPadding::fixed(65535)},
        {"bucket:0", std::nullopt},           {"fixed:65536", std::nullopt},           {"bucket:", std::nullopt},
        {"bucket:12x", std::nullopt},         {"bucket:-5", std::nullopt},             {"random:100", std::nullopt},
        {"fixed", std::nullopt},              {"", std::nullopt},                      {"OFF", std::nullopt},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(TfcPadding::parse(row.text) == row.parsed);
        if (row.parsed) CHECK(TfcPadding::parse(row.parsed->to_string()) == row.parsed);  // round trip
    }
}

TEST_CASE_TEMPLATE("esp tfc: each algorithm seals padded payloads; the receiver finds the inner packet", P, TAPSEC_TEST_PROVIDERS) {
    struct Row {
        esp::Algorithm algorithm;
        esp::Integrity integrity;
    };
    const Row rows[] = {{esp::Algorithm::aes_128_gcm_16, esp::Integrity::none},
                        {esp::Algorithm::aes_256_gcm_16, esp::Integrity::none},
                        {esp::Algorithm::chacha20_poly1305, esp::Integrity::none},
                        {esp::Algorithm::aes_128_cbc, esp::Integrity::hmac_sha2_256_128},
                        {esp::Algorithm::aes_256_cbc, esp::Integrity::hmac_sha2_512_256}};
    for (const auto& row : rows) {
        CAPTURE(esp::name(row.algorithm));
        const std::size_t n = esp::keymat_length(row.algorithm, row.integrity);
        esp::ChildSaKeys a;
        a.algorithm = row.algorithm;
        a.integrity = row.integrity;
        a.inbound_spi = 0x1001;
        a.outbound_spi = 0x2002;
        a.inbound_key = SecretBytes(n, 0x11);
        a.outbound_key = SecretBytes(n, 0x22);
        esp::ChildSaKeys b = a;
        std::swap(b.inbound_spi, b.outbound_spi);
        std::swap(b.inbound_key, b.outbound_key);
        auto sender = EspRecord::layer<P>::import(a);
        auto receiver = EspRecord::layer<P>::import(b);
        REQUIRE(sender);
        REQUIRE(receiver);
        for (std::size_t payload_size : {0u, 5u, 100u, 1000u}) {
            CAPTURE(payload_size);
            const Bytes inner = udp_packet(ipv4("10.0.0.1"), ipv4("10.0.0.2"), 1, 2, Bytes(payload_size, 0x5a));
            for (const TfcPadding mode : {TfcPadding::off(), TfcPadding::bucket(512), TfcPadding::fixed(1100)}) {
                CAPTURE(mode.to_string());
                const std::size_t padded = mode.padded_length(inner.size());
                Bytes packet(sender->sealed_size(padded));
                auto sealed = sender->protect(inner, esp::next_header_ipv4, packet, padded);
                REQUIRE(sealed);
                CHECK(*sealed == sender->sealed_size(padded));
                if (padded > inner.size()) CHECK(*sealed > sender->sealed_size(inner.size()));
                packet.resize(*sealed);
                auto opened = receiver->unprotect(packet);
                REQUIRE(opened);
                REQUIRE(opened->payload.size() == padded);  // ESP itself cannot tell padding from packet ...
                CHECK(Bytes(opened->payload.begin(), opened->payload.begin() + static_cast<std::ptrdiff_t>(inner.size())) == inner);
                for (std::size_t i = inner.size(); i < padded; ++i) REQUIRE(opened->payload[i] == 0);  // ... the IP header can
                CHECK(udp_payload(opened->payload.first(inner.size())) == std::string(payload_size, 'Z'));
            }
        }
        // A buffer sized for the unpadded packet is refused, not overrun.
        const Bytes inner = udp_packet(ipv4("10.0.0.1"), ipv4("10.0.0.2"), 1, 2, Bytes(10, 1));
        Bytes small(sender->sealed_size(inner.size()));
        auto refused = sender->protect(inner, esp::next_header_ipv4, small, 600);
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == esp::Error::payload_too_large);
    }
}

namespace ikev2_tfc_test {

/// Two engines (PSK) with TFC settings; the sizes of the ESP datagrams each sends.
template <class P>
struct TfcTunnel : ikev2_test::EnginePair<P> {
    TfcTunnel(TfcPadding i_mode, TfcPadding r_mode, bool i_refuses = false, bool r_refuses = false) {
        auto i = ikev2_test::psk_config("a@test", "b.test", "10.200.2.1/32", "10.200.1.0/24");
        auto r = ikev2_test::psk_config("b.test", "a@test", "10.200.1.1/32", "10.200.2.0/24");
        i.tfc_padding = i_mode;
        r.tfc_padding = r_mode;
        i.refuse_tfc_padding = i_refuses;
        r.refuse_tfc_padding = r_refuses;
        this->make(i, r);
    }
    /// Sends one UDP datagram of each size from the initiator (or the responder), checks
    /// that the other side delivers each inner packet exactly, and returns the sizes of
    /// the ESP datagrams on the wire.
    std::vector<std::size_t> send_sizes(bool from_initiator, const std::vector<std::size_t>& payload_sizes) {
        std::vector<std::size_t> sizes;
        auto& sender = from_initiator ? *this->i : *this->r;
        auto& receiver = from_initiator ? *this->r : *this->i;
        auto& log = from_initiator ? this->i_to_r : this->r_to_i;
        for (std::size_t n : payload_sizes) {
            const std::string text(n, 'x');
            const Bytes inner = from_initiator ? udp_packet(ipv4("10.200.2.1"), ipv4("10.200.1.1"), 5000, 7, as_bytes(text))
                                               : udp_packet(ipv4("10.200.1.1"), ipv4("10.200.2.1"), 7, 5000, as_bytes(text));
            const std::size_t before = log.size();
            REQUIRE_FALSE(sender.send(inner, this->now));
            this->pump();
            REQUIRE(log.size() == before + 1);
            sizes.push_back(log.back().size());
            auto got = receiver.poll_plaintext();
            REQUIRE(got);
            CHECK(Bytes(got->begin(), got->end()) == inner);  // exactly the inner packet: the padding is gone
        }
        return sizes;
    }
};

std::size_t distinct(const std::vector<std::size_t>& v) { return std::set<std::size_t>(v.begin(), v.end()).size(); }


TEST_CASE_TEMPLATE("ikev2 tfc: what an observer sees of inner lengths, per mode (table)", P, TAPSEC_TEST_PROVIDERS) {
    // UDP payloads of 1..1100 octets: inner packets of 29..1128 octets.
    const std::vector<std::size_t> payloads{1, 3, 60, 200, 227, 228, 500, 1100};
    struct Row {
        TfcPadding mode;
        std::size_t distinct_sizes;  // among the ESP datagrams of `payloads`
    };
    const Row rows[] = {
        {TfcPadding::off(), 7},          // inner 255 and 256 share ESP's 4-octet alignment (AES-GCM); the rest differ
        {TfcPadding::bucket(256), 3},    // inner 29..256 -> 256, 528 -> 768, 1128 -> 1280
        {TfcPadding::bucket(1500), 1},   // everything in one bucket
        {TfcPadding::fixed(1200), 1},    // everything padded to 1200
        {TfcPadding::fixed(300), 3},     // up to 300 alike; 528 and 1128 as they are
    };
    for (const auto& row : rows) {
        CAPTURE(row.mode.to_string());
        TfcTunnel<P> t(row.mode, row.mode);
        REQUIRE(t.connect());
        CHECK(t.i->tfc_padding_active() == row.mode.enabled());
        CHECK(t.r->tfc_padding_active() == row.mode.enabled());
        const auto there = t.send_sizes(true, payloads);
        const auto back = t.send_sizes(false, payloads);
        CHECK(distinct(there) == row.distinct_sizes);
        CHECK(there == back);  // the same rule both ways
        if (row.mode.enabled()) {
            // Each datagram is the unpadded one's size plus the TFC octets (and their alignment).
            TfcTunnel<P> plain(TfcPadding::off(), TfcPadding::off());
            REQUIRE(plain.connect());
            const auto unpadded = plain.send_sizes(true, payloads);
            for (std::size_t k = 0; k < payloads.size(); ++k) {
                const std::size_t inner = 28 + payloads[k];
                CHECK(there[k] == unpadded[k] + row.mode.padded_length(inner) - inner + esp::padding_for(row.mode.padded_length(inner)) -
                                      esp::padding_for(inner));
            }
        }
    }
}

TEST_CASE_TEMPLATE("ikev2 tfc: N(ESP_TFC_PADDING_NOT_SUPPORTED) from the peer turns our padding off (table)", P, TAPSEC_TEST_PROVIDERS) {
    struct Row {
        const char* name;
        bool i_refuses, r_refuses;
        bool i_pads, r_pads;  // after IKE_AUTH, both configured with fixed:1000
    };
    const Row rows[] = {
        {"nobody refuses", false, false, true, true},
        {"the responder refuses (IKE_AUTH response)", false, true, false, true},
        {"the initiator refuses (IKE_AUTH request)", true, false, true, false},
        {"both refuse", true, true, false, false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        TfcTunnel<P> t(TfcPadding::fixed(1000), TfcPadding::fixed(1000), row.i_refuses, row.r_refuses);
        REQUIRE(t.connect());
        CHECK(t.i->tfc_padding_active() == row.i_pads);
        CHECK(t.r->tfc_padding_active() == row.r_pads);
        const auto there = t.send_sizes(true, {10});
        const auto back = t.send_sizes(false, {10});
        CHECK((there.front() > 1000) == row.i_pads);
        CHECK((back.front() > 1000) == row.r_pads);
        // A Child SA rekey carries the notify again (RFC 7296 3.10.1: per Child SA); the
        // rule holds on the new SA, whichever side starts the rekey.
        REQUIRE_FALSE(t.i->rekey_child(t.now));
        t.pump();
        REQUIRE(t.i->child_rekeys() == 1);
        CHECK(t.i->tfc_padding_active() == row.i_pads);
        CHECK(t.r->tfc_padding_active() == row.r_pads);
        CHECK((t.send_sizes(true, {10}).front() > 1000) == row.i_pads);
        REQUIRE_FALSE(t.r->rekey_child(t.now));
        t.pump();
        CHECK(t.r->child_rekeys() == 2);
        CHECK((t.send_sizes(false, {10}).front() > 1000) == row.r_pads);
        CHECK((t.send_sizes(true, {10}).front() > 1000) == row.i_pads);
    }
}

TEST_CASE("ikev2 tfc: the composition declares length-hiding padding (LHP) as a type") {
    using Composition = Secure<Ikev2Handshake, EspRecord, Udp>;
    static_assert(Composition::has<feature::LHP>);
    static_assert(declared_features<EspRecord>().has<feature::length_hiding_padding>());
    CHECK(Composition::features.availability<feature::LHP>() == Availability::supported);
}

}  // namespace ikev2_tfc_test
