// Uses the installed headers: the feature table types, the Botan provider and a transport.
#include <cstdio>

#include <tapsec/tapsec.hpp>

int main() {
    using namespace tapsec;
    auto digest = crypto::DefaultProvider::hash(crypto::HashAlgorithm::sha256, as_bytes("abc"));
    // FIPS 180-2 SHA-256("abc")
    if (to_hex(digest) != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") return 1;
    auto [a, b] = MemoryStream::pair();
    if (a.write_all(as_bytes("ok"))) return 2;
    std::array<std::uint8_t, 2> buf{};
    auto n = b.read_some(buf, Clock::now() + std::chrono::seconds(1));
    if (!n || *n != 2) return 3;
    std::puts("consumer: tapsec found and working");
    return 0;
}
