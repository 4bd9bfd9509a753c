// Fuzzes MinimaLT's directory record parser and signature check: every input is a
// record or an error (never a crash), a parsed record serializes back to exactly its
// input, and only the fixture's own signed record verifies.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <tapsec/crypto/botan.hpp>
#include <tapsec/minimalt/config.hpp>
#include <tapsec/minimalt/directory.hpp>

using namespace tapsec;

namespace {
struct Fixture {
    minimalt::Config server;
    Bytes record, key;
    Fixture() {
        record = minimalt::publish_record<crypto::Botan2>(server, "fuzz.test", "127.0.0.1:1", std::chrono::hours(1)).value();
        key = crypto::Botan2::Ed25519::public_key(server.long_term_seed).value();
    }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Fixture f;
    const ByteView input(data, size);
    auto parsed = minimalt::parse_record(input);
    if (parsed) {
        const Bytes again = minimalt::serialize(*parsed);
        if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
    }
    auto verified = minimalt::verify_record<crypto::Botan2>(input, f.key, std::chrono::system_clock::now());
    const bool is_fixture = size == f.record.size() && std::equal(f.record.begin(), f.record.end(), data);
    if (verified && !is_fixture) std::abort();  // a forgery verified
    return 0;
}
