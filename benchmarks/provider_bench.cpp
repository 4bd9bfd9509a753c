// The crypto providers side by side: AEAD seal throughput at 16 KiB and 1420 bytes
// for the default (Botan 2) and the OpenSSL 3 provider, in the same run.
#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tapsec.hpp>

#include "harness.hpp"

namespace {

using namespace tapsec;
using namespace tapsec::crypto;

template <class P>
double seal_bytes_per_second(AeadAlgorithm alg, std::size_t size) {
    auto aead = P::Aead::create(alg, Bytes(key_size(alg), 7));
    Bytes nonce(nonce_size(alg), 1), aad(13, 2), buffer(size + 16, 3);
    auto m = bench::measure([&] {
        aead->seal_in_place(nonce, aad, MutableByteView(buffer.data(), size), MutableByteView(buffer.data() + size, 16));
        ++nonce[0];
    });
    return m.per_second() * static_cast<double>(size);
}

const bench::Registration providers{{"providers", "AEAD seal throughput: Botan 2 vs the OpenSSL 3 provider",
                                     [](bench::Report& report) {
    const std::pair<AeadAlgorithm, const char*> algorithms[] = {{AeadAlgorithm::aes_128_gcm, "AES-128-GCM"},
                                                                {AeadAlgorithm::aes_256_gcm, "AES-256-GCM"},
                                                                {AeadAlgorithm::chacha20_poly1305, "ChaCha20-Poly1305"}};
    for (auto [alg, label] : algorithms)
        for (std::size_t size : {std::size_t{16384}, std::size_t{1420}}) {
            const std::string name = std::string(label) + " seal " + std::to_string(size) + " B";
            const double botan = seal_bytes_per_second<Botan2>(alg, size);
            const double openssl = seal_bytes_per_second<OpenSsl3>(alg, size);
            report.value(name + ", Botan 2", botan / 1e9, "GB/s");
            report.value(name + ", OpenSSL 3 provider", openssl / 1e9, "GB/s");
            report.ratio(name + ", OpenSSL provider / Botan", openssl, botan);
        }
}}};

}  // namespace
