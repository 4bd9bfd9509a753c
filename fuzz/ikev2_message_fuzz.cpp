// Fuzzes IKEv2 message parsing and the engine's receive path: the header and payload
// chain parser, every payload decoder (with certificate authentication's: CERT,
// CERTREQ, the RFC 7427 AUTH data and its AlgorithmIdentifier, SIGNATURE_HASH_ALGORITHMS,
// and the X.509 / DN reader run on every payload body and on CERT data), a fresh responder (IKE_SA_INIT, cookies,
// proposal selection) and an established responder (SK payload, INFORMATIONAL,
// CREATE_CHILD_SA refusal, ESP demultiplexing), and EAP payloads (RFC 3748 parsing and
// both EAP-MD5 layers), and CP payloads (RFC 7296 3.15: the codec, CFG_REQUEST and
// CFG_REPLY readers), and IKE fragments (RFC 7383: the SKF payload's numbers, the
// established responder's SKF path up to its integrity check, and the reassembly fed
// the input as a sequence of plaintext fragments). The first input byte is a control
// byte: bit 0 prepends the non-ESP marker, bit 1 sends to the established responder.
// Any crash, sanitizer report or hang is a bug.
#include <cstddef>
#include <cstdint>

#include <tapsec/ikev2.hpp>

using namespace tapsec;
using namespace tapsec::ikev2;
using Provider = crypto::Botan2;
using IkeEngine = ikev2::Engine<Provider>;

namespace {

Config config(const char* local, const char* remote, const char* local_ts, const char* remote_ts) {
    Config c;
    c.local_id = *Identification::parse(local);
    c.remote_id = *Identification::parse(remote);
    c.pre_shared_keys.push_back({remote, SecretBytes(24, 0x5a)});
    c.local_ts = *parse_selector(local_ts);
    c.remote_ts = *parse_selector(remote_ts);
    return c;
}

struct Fixture {
    Endpoint from = *Endpoint::parse("192.0.2.1:4500");
    std::unique_ptr<IkeEngine> established;
    Fixture() {
        IkeEngine i(Role::client, config("a@test", "b.test", "10.1.0.1/32", "10.2.0.0/24"));
        established = std::make_unique<IkeEngine>(Role::server, config("b.test", "a@test", "10.2.0.1/32", "10.1.0.0/24"));
        const Instant now{};
        (void)i.start(now);
        for (int round = 0; round < 10; ++round) {
            while (auto t = i.poll_transmit()) (void)established->receive(t->data, from, now);
            while (auto t = established->poll_transmit()) (void)i.receive(t->data, from, now);
        }
    }
};

/// An EAP payload body through the parser and both sides' EAP layers (EAP-MD5).
void fuzz_eap(ByteView body) {
    (void)eap::decode(body);
    eap::PeerSession peer(std::make_shared<eap::Md5Peer<Provider>>("a@test", SecretBytes(8, 0x33)));
    (void)peer.on_message(body);
    auto users = std::make_shared<const eap::Md5Users>(eap::Md5Users{{"a@test", SecretBytes(8, 0x33)}});
    eap::ServerSession server(std::make_shared<eap::Md5Server<Provider>>(users), [](MutableByteView out) {
        for (auto& b : out) b = 0x42;  // a fixed challenge, so a crafted answer can reach the check
    });
    if (server.start("a@test")) (void)server.on_message(body);
}

/// The input as fragments: number (2) | total (2) | next payload (1) | length (1) | piece,
/// repeated, all of one message, through the reassembly and, once whole, the chain parser.
void fuzz_fragments(ByteView data) {
    FragmentReassembly reassembly;
    const FragmentLimits limits{8, 1024};
    wire::Reader r(data);
    for (int k = 0; k < 64 && r.remaining() >= 6; ++k) {
        FragmentNumbers numbers;
        numbers.number = r.u16();
        numbers.total = r.u16();
        const auto next = static_cast<PayloadType>(r.u8());
        ByteView piece = r.bytes(std::min<std::size_t>(r.u8(), r.remaining()));
        auto added = reassembly.add(7, numbers, next, piece, limits);
        if (added && *added) {
            std::vector<RawPayload> inner;
            (void)parse_chain((*added)->chain, (*added)->first_inner, inner);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Fixture fixture;
    if (size == 0) return 0;
    const std::uint8_t control = data[0];
    const ByteView body(data + 1, size - 1);

    if (auto m = parse_message(body)) {
        for (const auto& p : m->payloads) {
            (void)decode_sa(p.body);
            (void)decode_ke(p.body);
            if (auto id = decode_id(p.body)) (void)Identification::from_payload(*id);
            if (auto auth = decode_auth(p.body))
                if (auto signature = decode_signature_auth(auth->data)) (void)scheme_of(signature->algorithm);
            if (auto notify = decode_notify(p.body)) (void)decode_hash_algorithms(notify->data);
            if (auto cert = decode_cert(p.body)) (void)parse_certificate(cert->data);
            (void)decode_certreq(p.body);
            (void)parse_certificate(p.body);
            (void)parse_dn(p.body);
            (void)decode_delete(p.body);
            (void)decode_ts(p.body);
            if (auto cp = decode_cp(p.body)) (void)cp->ip4(cp_attribute::internal_ip4_address);
            if (p.type == PayloadType::eap) fuzz_eap(p.body);
        }
        // The configuration exchange's readers (RFC 7296 2.19), both sides.
        (void)read_cfg_request(m->payloads);
        if (m->fragment())
            if (auto numbers = decode_fragment_numbers(m->encrypted->body))
                (void)FragmentReassembly().add(m->header.message_id, *numbers, m->first_inner,
                                               ByteView(m->encrypted->body).subspan(fragment_numbers_size), {});
        for (bool requested : {false, true}) (void)accept_cfg_reply(m->payloads, requested, *parse_selector("0.0.0.0/0"));
    }
    fuzz_fragments(body);
    (void)inspect_ipv4(body);
    (void)inspect_ipv6(body);  // and the extension-header walk
    (void)parse_certificate(body);
    (void)scheme_of(body);
    (void)parse_dn_text(std::string_view(reinterpret_cast<const char*>(body.data()), body.size()));

    Bytes datagram;
    if (control & 1) datagram.assign(4, 0);
    datagram.insert(datagram.end(), body.begin(), body.end());
    const Instant now{};
    if (control & 2) {
        IkeEngine engine = *fixture.established;  // a copy per input: each run starts established
        (void)engine.receive(datagram, fixture.from, now);
        while (engine.poll_transmit()) {}
        while (engine.poll_plaintext()) {}
    } else {
        IkeEngine responder(Role::server, config("b.test", "a@test", "10.2.0.1/32", "10.1.0.0/24"));
        (void)responder.receive(datagram, fixture.from, now);
        while (responder.poll_transmit()) {}
    }
    return 0;
}
