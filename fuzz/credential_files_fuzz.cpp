// libFuzzer target: what the `tapsec` command reads from files a user names, through
// the library functions its readers hand the text to. First input byte picks the reader:
//   0  certificate PEM (--cert, --CAfile): tls13's chain_from_pem, botan_tls's parser
//   1  private-key PEM (--key): tls13's from_pem, botan_tls's PKCS#8 loader
//   2  a TLS 1.3 session file (--sess-in): hex, then the client's SessionState parser
//   3  a TLS 1.2 / DTLS session file (--sess-in): base64, then the session bridge's
//      Botan session decoder (the cache returns these bytes for the lookup)
//   4  a --ticket-key-file: the first 48 bytes key the ticket sealer, which must then
//      refuse every ticket it did not seal (the rest of the input, as a ticket)
//   5  a whole identity (chain PEM, then key PEM after a NUL): parsed once per config
// The CLI's own glue around these (open the file, read it, split a line) is a few
// lines in tools/cli/ and is not repeated here.
#include <cstddef>
#include <cstdint>
#include <string>

#include <botan/base64.h>

#include <tapsec/tapsec.hpp>

using namespace tapsec;
using Provider = crypto::Botan2;

namespace {

/// A cache holding one entry under any key: what a session file gives the engine.
class OneEntryCache final : public SessionCache {
public:
    explicit OneEntryCache(Bytes entry) : entry_(std::move(entry)) {}
    void store(const std::string&, const Bytes&) override {}
    std::optional<Bytes> load(const std::string&) override { return entry_; }
    void remove(const std::string&) override {}

private:
    Bytes entry_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 6) {
        case 0:
            (void)Provider::Certificate::chain_from_pem(text);
            (void)botan_tls::parse_certificates(text);
            break;
        case 1:
            (void)Provider::PrivateKey::from_pem(text);
            (void)botan_tls::parse_private_key(text);
            break;
        case 2: {
            bool ok = false;
            const Bytes session = from_hex(text, &ok);
            if (ok) (void)tls13::SessionState::parse(session);
            break;
        }
        case 3: {
            Bytes session;
            try {
                const auto decoded = Botan::base64_decode(text);
                session.assign(decoded.begin(), decoded.end());
            } catch (const std::exception&) {
                break;  // the CLI's reader treats this as "no session"
            }
            botan_tls::SessionCacheBridge bridge(std::make_shared<OneEntryCache>(session), "tls:");
            Botan::TLS::Session loaded;
            (void)bridge.load_from_server_info(Botan::TLS::Server_Information("localhost", 443), loaded);
            (void)bridge.load_from_session_id({1, 2, 3}, loaded);
            break;
        }
        case 4: {
            if (text.size() < 48) break;
            const ByteView bytes = as_bytes(text);
            auto key = tls13::TicketKey::from_bytes(bytes.first(16), bytes.subspan(16, 32));
            if (key->template open<Provider>(bytes.subspan(48))) std::abort();  // nothing sealed: nothing opens
            break;
        }
        default: {
            const auto split = text.find('\0');
            if (split == std::string::npos) break;
            Identity identity(text.substr(0, split), text.substr(split + 1));
            tls13::ParsedIdentitySlot slot;
            (void)tls13::ParsedIdentity<Provider>::get(identity, slot);
            break;
        }
    }
    return 0;
}
