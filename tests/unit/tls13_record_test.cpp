// TLS 1.3 record layer (RFC 8446 5): round trips, padding, limits and every negative
// case the record layer must reject with a distinct error.
#include <doctest/doctest.h>

#include <tapsec/tls13/record.hpp>

using namespace tapsec;
using namespace tapsec::tls13;

namespace {

TrafficSecret secret_for(const CipherSuite& suite, std::uint8_t fill) {
    return {&suite, SecretBytes(suite.hash_length, fill)};
}

/// A writer and a reader keyed with the same secret (one direction of a connection).
struct Pipe {
    RecordLayer<> writer, reader;
    explicit Pipe(const CipherSuite& suite = TLS_AES_128_GCM_SHA256, RecordLayer<>::Options options = {})
        : writer(options), reader(options) {
        REQUIRE_FALSE(writer.install_write(secret_for(suite, 0x42)));
        REQUIRE_FALSE(reader.install_read(secret_for(suite, 0x42)));
    }
};

}  // namespace

TEST_CASE("tls13 record: round trip for every suite") {
    for (const CipherSuite* suite : all_cipher_suites) {
        CAPTURE(suite->name);
        Pipe p(*suite);
        Bytes wire;
        Bytes message(1000, 0xab);
        REQUIRE_FALSE(p.writer.write(ContentType::application_data, message, wire));
        CHECK(wire.size() == 5 + 1000 + 1 + 16);
        CHECK(wire[0] == 23);
        REQUIRE_FALSE(p.reader.feed(wire));
        auto r = p.reader.next();
        REQUIRE(r.ok());
        REQUIRE(r->has_value());
        CHECK((*r)->type == ContentType::application_data);
        CHECK(Bytes((*r)->data.begin(), (*r)->data.end()) == message);
    }
}
