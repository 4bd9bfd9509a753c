// Shared machinery for the RFC 8448 ("Example Handshake Traces for TLS 1.3") vector
// tests: a trace is the RFC's list of steps ({client}/{server}, title, named hex
// values), pasted into each tests/vectors/tls13_rfc8448_*.cpp file by
// tls13_rfc8448_extract.py from the RFC text, unchanged.
//
// Two kinds of check run on a trace:
//  - check_every_hkdf_step: every HKDF-Extract, Derive-Secret, traffic key/IV, finished
//    key, PSK binder and resumption-PSK step, recomputed from the step's own inputs with
//    tls13::hkdf_label / hkdf_expand_label / traffic_keys / finished_key.
//  - the per-section test: the key schedule's typed stages driven from the trace's
//    inputs only (private keys, PSK, handshake messages), every secret compared, and
//    every protected record re-sealed and re-opened byte for byte.
#pragma once

#include <doctest/doctest.h>

#include <botan/bigint.h>
#include <botan/pem.h>
#include <botan/pkcs8.h>
#include <botan/rsa.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tapsec/crypto/botan.hpp>
#include <tapsec/tls13/key_schedule.hpp>
#include <tapsec/tls13/client.hpp>
#include <tapsec/tls13/record.hpp>
#include <tapsec/tls13/server.hpp>

namespace rfc8448 {

using namespace tapsec;
using namespace tapsec::tls13;

struct Field {
    const char* name;
    const char* hex;
};
struct Step {
    const char* who;    // "client" or "server"
    const char* title;  // as printed after {client}/{server}
    std::vector<Field> fields;
};
using Trace = std::vector<Step>;

inline bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

/// The nth step (0-based) of `who` whose title starts with `title`.
inline const Step& step(const Trace& trace, std::string_view who, std::string_view title, int nth = 0) {
    for (const auto& s : trace)
        if (s.who == who && starts_with(s.title, title) && nth-- == 0) return s;
    FAIL("RFC 8448 trace has no step {" << who << "} " << title);
    static const Step none{};
    return none;
}

inline bool has_field(const Step& s, std::string_view name) {
    for (const auto& f : s.fields)
        if (f.name == name) return true;
    return false;
}

inline Bytes field(const Step& s, std::string_view name) {
    for (const auto& f : s.fields)
        if (f.name == name) {
            bool ok = false;
            auto b = from_hex(f.hex, &ok);
            REQUIRE(ok);
            return b;
        }
    FAIL("RFC 8448 step {" << s.who << "} " << s.title << " has no field " << name);
    return {};
}

inline Bytes value(const Trace& t, std::string_view who, std::string_view title, std::string_view name, int nth = 0) {
    return field(step(t, who, title, nth), name);
}

/// Hex of secret bytes, for readable CHECK failures.
template <class B>
std::string hex(const B& b) {
    return to_hex(ByteView(b.data(), b.size()));
}

/// The label inside the title's quotes without "tls13 ", e.g. c hs traffic.
inline std::string quoted_label(std::string_view title) {
    const auto open = title.find('"');
    const auto close = title.find('"', open + 1);
    std::string label(title.substr(open + 1, close - open - 1));
    if (starts_with(label, "tls13 ")) label = label.substr(6);
    return label;
}

/// Recomputes every HKDF step the trace prints from its printed inputs.
template <class Crypto = crypto::DefaultProvider>
int check_every_hkdf_step(const Trace& trace, const CipherSuite& suite) {
    const auto h = suite.hash;
    int checked = 0;
    for (const auto& s : trace) {
        const std::string_view title = s.title;
        CAPTURE(std::string(s.who) + ": " + s.title);
        if (starts_with(title, "extract secret") && has_field(s, "secret")) {
            Bytes salt = field(s, "salt");
            if (salt.empty()) salt.assign(suite.hash_length, 0);
            CHECK(hex(Crypto::hkdf_extract(h, salt, field(s, "IKM"))) == hex(field(s, "secret")));
            ++checked;
        } else if (starts_with(title, "derive secret") && has_field(s, "expanded")) {
            const auto label = quoted_label(title);
            const auto context = field(s, "hash");
            CHECK(hex(hkdf_label(label, context, suite.hash_length)) == hex(field(s, "info")));
            CHECK(hex(derive_secret<Crypto>(h, field(s, "PRK"), label, context)) == hex(field(s, "expanded")));
            ++checked;
        } else if (starts_with(title, "derive") && title.find("traffic keys") != std::string_view::npos &&
                   has_field(s, "key expanded")) {
            const auto keys = traffic_keys<Crypto>(suite, field(s, "PRK"));
            CHECK(hex(hkdf_label("key", {}, suite.key_length)) == hex(field(s, "key info")));
            CHECK(hex(hkdf_label("iv", {}, suite.iv_length)) == hex(field(s, "iv info")));
            CHECK(hex(keys.key) == hex(field(s, "key expanded")));
            CHECK(hex(keys.iv) == hex(field(s, "iv expanded")));
            ++checked;
        } else if (starts_with(title, "calculate finished") && has_field(s, "expanded")) {
            CHECK(hex(hkdf_label("finished", {}, suite.hash_length)) == hex(field(s, "info")));
            CHECK(hex(finished_key<Crypto>(h, field(s, "PRK"))) == hex(field(s, "expanded")));
            ++checked;
        } else if (starts_with(title, "calculate PSK binder") && has_field(s, "finished")) {
            CHECK(hex(Crypto::hash(h, field(s, "ClientHello prefix"))) == hex(field(s, "binder hash")));
            CHECK(hex(finished_key<Crypto>(h, field(s, "PRK"))) == hex(field(s, "expanded")));
            CHECK(hex(finished_verify_data<Crypto>(h, field(s, "PRK"), field(s, "binder hash"))) == hex(field(s, "finished")));
            ++checked;
        } else if (starts_with(title, "generate resumption secret") && has_field(s, "expanded")) {
            CHECK(hex(hkdf_label("resumption", field(s, "hash"), suite.hash_length)) == hex(field(s, "info")));
            const Bytes prk = field(s, "PRK");
            const ResumptionMasterSecret rms{&suite, SecretBytes(prk.begin(), prk.end())};
            CHECK(hex(resumption_psk<Crypto>(rms, field(s, "hash"))) == hex(field(s, "expanded")));
            ++checked;
        }
    }
    return checked;
}

/// One direction under one traffic secret: re-seals the trace's payloads in order (the
/// sequence number advancing as in the trace) and compares the protected record byte
/// for byte, then opens the trace's record with a fresh reader and compares the payload.
/// Records of one direction through provider Crypto's record layer.
template <class Crypto = crypto::DefaultProvider>
class ProtectedDirection {
public:
    explicit ProtectedDirection(const TrafficSecret& secret) {
        REQUIRE_FALSE(writer_.install_write(secret));
        REQUIRE_FALSE(reader_.install_read(secret));
    }
    void check(ContentType type, const Step& s) {
        CAPTURE(std::string(s.who) + ": " + s.title);
        const Bytes payload = field(s, "payload");
        const Bytes expected = field(s, "complete record");
        Bytes wire;
        REQUIRE_FALSE(writer_.write(type, payload, wire));
        CHECK(hex(wire) == hex(expected));
        REQUIRE_FALSE(reader_.feed(expected));
        auto opened = reader_.next();
        REQUIRE(opened.ok());
        REQUIRE(opened->has_value());
        CHECK((*opened)->type == type);
        CHECK((*opened)->protected_record);
        CHECK(hex((*opened)->data) == hex(payload));
    }

private:
    RecordLayer<Crypto> writer_, reader_;
};

/// A plaintext record from the trace (ClientHello, ServerHello, HRR): framing only.
inline void check_plaintext_record(const Step& s, std::uint16_t legacy_version) {
    CAPTURE(std::string(s.who) + ": " + s.title);
    RecordLayer<> layer;
    Bytes wire;
    REQUIRE_FALSE(layer.write(ContentType::handshake, field(s, "payload"), wire, legacy_version));
    CHECK(hex(wire) == hex(field(s, "complete record")));
}

inline TrafficSecret traffic(const CipherSuite& suite, const Bytes& secret) {
    return {&suite, SecretBytes(secret.begin(), secret.end())};
}

/// The ticket_nonce of a NewSessionTicket message (4.6.1).
inline Bytes ticket_nonce(const Bytes& new_session_ticket) {
    wire::Reader r(new_session_ticket);
    r.u8();
    r.u24();
    r.u32();  // ticket_lifetime
    r.u32();  // ticket_age_add
    auto nonce = r.prefixed(1);
    REQUIRE(r.ok());
    return Bytes(nonce.begin(), nonce.end());
}

/// The part every full (certificate-authenticated, no PSK) trace shares, from the
/// ServerHello on: `transcript` holds everything through ServerHello; the server sends
/// `server_messages` then Finished in its `server_record`-th handshake record, the client
/// `client_messages` then Finished in its `client_record`-th; both then send
/// close_notify as their first application-epoch record.
template <class Crypto>
void check_full_handshake_after_hello(const Trace& t, const CipherSuite& suite,
                                             Transcript<Crypto>& transcript, ByteView shared_secret,
                                             const std::vector<std::string>& server_messages,
                                             const std::vector<std::string>& client_messages, int server_record,
                                             int client_record) {
    auto early = EarlySecret<Crypto>::without_psk(suite);
    CHECK(hex(early.secret()) == hex(value(t, "server", "extract secret \"early\"", "secret")));
    CHECK(hex(shared_secret) == hex(value(t, "server", "extract secret \"handshake\"", "IKM")));
    const Bytes th_hello = transcript.current_hash();
    CHECK(hex(th_hello) == hex(value(t, "server", "derive secret \"tls13 c hs traffic\"", "hash")));

    auto hs = std::move(early).into_handshake(shared_secret);
    CHECK(hex(hs.secret()) == hex(value(t, "server", "extract secret \"handshake\"", "secret")));
    const auto chts = hs.client_handshake_traffic_secret(th_hello);
    const auto shts = hs.server_handshake_traffic_secret(th_hello);
    CHECK(hex(chts.secret) == hex(value(t, "server", "derive secret \"tls13 c hs traffic\"", "expanded")));
    CHECK(hex(shts.secret) == hex(value(t, "server", "derive secret \"tls13 s hs traffic\"", "expanded")));
    CHECK(hex(traffic_keys<Crypto>(shts).key) == hex(value(t, "server", "derive write traffic keys for handshake data", "key expanded")));
    CHECK(hex(traffic_keys<Crypto>(shts).iv) == hex(value(t, "server", "derive write traffic keys for handshake data", "iv expanded")));
    CHECK(hex(traffic_keys<Crypto>(chts).key) == hex(value(t, "server", "derive read traffic keys for handshake data", "key expanded")));
    CHECK(hex(traffic_keys<Crypto>(chts).iv) == hex(value(t, "server", "derive read traffic keys for handshake data", "iv expanded")));

    for (const auto& m : server_messages) transcript.add(value(t, "server", "construct a " + m + " handshake", m));
    const auto server_finished = finished_verify_data<Crypto>(shts, transcript.current_hash());
    CHECK(hex(server_finished) == hex(value(t, "server", "calculate finished \"tls13 finished\":", "finished")));
    const Bytes server_finished_message = value(t, "server", "construct a Finished", "Finished");
    CHECK(hex(ByteView(server_finished_message).subspan(4)) == hex(server_finished));
    transcript.add(server_finished_message);
    ProtectedDirection<Crypto>(shts).check(ContentType::handshake, step(t, "server", "send handshake record", server_record));

    const Bytes th_server_finished = transcript.current_hash();
    CHECK(hex(th_server_finished) == hex(value(t, "server", "derive secret \"tls13 c ap traffic\"", "hash")));
    auto master = std::move(hs).into_master();
    CHECK(hex(master.secret()) == hex(value(t, "server", "extract secret \"master\"", "secret")));
    const auto cats = master.client_application_traffic_secret(th_server_finished);
    const auto sats = master.server_application_traffic_secret(th_server_finished);
    CHECK(hex(cats.secret) == hex(value(t, "server", "derive secret \"tls13 c ap traffic\"", "expanded")));
    CHECK(hex(sats.secret) == hex(value(t, "server", "derive secret \"tls13 s ap traffic\"", "expanded")));
    CHECK(hex(master.exporter_master_secret(th_server_finished).secret) ==
          hex(value(t, "server", "derive secret \"tls13 exp master\"", "expanded")));
    CHECK(hex(traffic_keys<Crypto>(sats).key) == hex(value(t, "server", "derive write traffic keys for application data", "key expanded")));
    CHECK(hex(traffic_keys<Crypto>(sats).iv) == hex(value(t, "server", "derive write traffic keys for application data", "iv expanded")));
    CHECK(hex(traffic_keys<Crypto>(cats).key) == hex(value(t, "client", "derive write traffic keys for application data", "key expanded")));
    CHECK(hex(traffic_keys<Crypto>(cats).iv) == hex(value(t, "client", "derive write traffic keys for application data", "iv expanded")));

    for (const auto& m : client_messages) transcript.add(value(t, "client", "construct a " + m + " handshake", m));
    const auto client_finished = finished_verify_data<Crypto>(chts, transcript.current_hash());
    CHECK(hex(client_finished) == hex(value(t, "client", "calculate finished \"tls13 finished\":", "finished")));
    const Bytes client_finished_message = value(t, "client", "construct a Finished", "Finished");
    CHECK(hex(ByteView(client_finished_message).subspan(4)) == hex(client_finished));
    CHECK(verify_finished<Crypto>(chts, transcript.current_hash(), ByteView(client_finished_message).subspan(4)));
    transcript.add(client_finished_message);
    ProtectedDirection<Crypto>(chts).check(ContentType::handshake, step(t, "client", "send handshake record", client_record));

    const Bytes th_client_finished = transcript.current_hash();
    CHECK(hex(th_client_finished) == hex(value(t, "client", "derive secret \"tls13 res master\"", "hash")));
    CHECK(hex(master.resumption_master_secret(th_client_finished).secret) ==
          hex(value(t, "client", "derive secret \"tls13 res master\"", "expanded")));

    ProtectedDirection<Crypto>(cats).check(ContentType::alert, step(t, "client", "send alert record"));
    ProtectedDirection<Crypto>(sats).check(ContentType::alert, step(t, "server", "send alert record"));
}

// ---- driving the real state machines with a trace (tls13_rfc8448_replay_test.cpp) ----

/// RFC 8448 Section 2: the server's RSA key.
inline Botan::BigInt big(const char* hex_value) {
    const Bytes b = from_hex(hex_value);
    return Botan::BigInt(b.data(), b.size());
}
inline const char* const rsa_modulus =
    "b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43"
    "120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab"
    "9a8002c47428a6d35a8d88d79f7f1e3f";
inline const char* const rsa_private_exponent =
    "04dea705d43a6ea7209dd8072111a83c81e322a59278b33480641eaf7c0a6985b8e31c44f6de62e1b4c2309f6126e77b7c41e923314bbfa3"
    "881305dc1217f16c819ce538e922f369828d0e57195d8c8488460207b2faa726bcf708bbd7db7f679f893492fc2a622e08970aac441ce4e0"
    "c3088df25ae679233df8a3bda2ff9941";
inline const char* const rsa_prime1 =
    "e435fb7cc83737756dacea96ab7f59a2cc1069db7deb190e17e33a532b273f30a327aa0aaabc58cd67466af9845fadc675fe094af92c4bd1"
    "f2c1bc33dd2e0515";
inline const char* const rsa_prime2 =
    "cabd3bc0e0438664c8d4cc9f99977a94d9bbfead8e43870abae3f7eb8b4e0eee8af1d9b4719ba6196cf2cbbaeeebf8b3490afe9e9ffa74a8"
    "8aa51fc645629303";

inline std::string rfc8448_rsa_key_pem() {
    Botan::RSA_PrivateKey key(big(rsa_prime1), big(rsa_prime2), Botan::BigInt(65537), big(rsa_private_exponent),
                              big(rsa_modulus));
    return Botan::PKCS8::PEM_encode(key);
}

/// The one certificate of a Certificate message (empty context, one entry, no extensions).
inline Bytes certificate_der(const Bytes& certificate_message) {
    wire::Reader r(ByteView(certificate_message).subspan(4));
    r.prefixed(1);
    wire::Reader list(r.prefixed(3));
    auto der = list.prefixed(3);
    REQUIRE(list.ok());
    return Bytes(der.begin(), der.end());
}

inline std::string certificate_pem(const Bytes& der) { return Botan::PEM_Code::encode(der.data(), der.size(), "CERTIFICATE"); }

/// A time inside the trace certificate's validity (2016-07-30 .. 2026-07-30).
inline std::chrono::system_clock::time_point during_trace() {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'500'000'000));  // 2017-07-14
}

/// A random source that hands out the trace's values in the order the state machine
/// draws them (each draw must have the expected size), then a fixed filler pattern for
/// draws the trace does not show (ticket ids and sealing nonces).
struct ScriptedRandom {
    std::deque<Bytes> script;
    std::vector<std::size_t> draws;  // the size of every draw, in order
    std::uint8_t filler = 0;

    static std::function<void(MutableByteView)> install(std::shared_ptr<ScriptedRandom> self) {
        return [self](MutableByteView out) {
            self->draws.push_back(out.size());
            if (self->script.empty()) {
                for (auto& b : out) b = self->filler++;
                return;
            }
            const Bytes next = std::move(self->script.front());
            self->script.pop_front();
            REQUIRE_MESSAGE(next.size() == out.size(), "scripted draw of " << next.size() << " bytes, asked " << out.size());
            std::copy(next.begin(), next.end(), out.begin());
        };
    }
};

/// One whole handshake message as the state machines take it.
inline RawMessage raw(const Bytes& message) {
    MessageBuffer buffer;
    buffer.add(message);
    auto next = buffer.next();
    REQUIRE(next.ok());
    REQUIRE(next->has_value());
    return std::move(**next);
}

/// What a state machine asked for, in order, by kind.
struct Drained {
    std::vector<std::pair<Level, Bytes>> sent;
    std::vector<TrafficSecret> read_keys, write_keys;
    std::vector<Event> events;
};
template <class Crypto>
Drained drain(HandshakeCommon<Crypto>& machine) {
    Drained d;
    while (auto a = machine.poll_action()) {
        switch (a->kind) {
            case Action::Kind::send: d.sent.emplace_back(a->level, std::move(a->message)); break;
            case Action::Kind::install_read_key: d.read_keys.push_back(std::move(a->secret)); break;
            case Action::Kind::install_write_key: d.write_keys.push_back(std::move(a->secret)); break;
            case Action::Kind::event: d.events.push_back(a->event); break;
            default: break;
        }
    }
    return d;
}

inline std::vector<std::uint16_t> extension_types(const std::vector<Extension>& list) {
    std::vector<std::uint16_t> out;
    for (const auto& x : list) out.push_back(x.type);
    std::sort(out.begin(), out.end());
    return out;
}

/// Types in `all` that are not in `some` (both sorted).
inline std::vector<std::uint16_t> missing_from(const std::vector<std::uint16_t>& all, const std::vector<std::uint16_t>& some) {
    std::vector<std::uint16_t> out;
    std::set_difference(all.begin(), all.end(), some.begin(), some.end(), std::back_inserter(out));
    return out;
}

}  // namespace rfc8448
