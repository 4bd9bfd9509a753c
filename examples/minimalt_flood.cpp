// Floods a MinimaLT listener with tunnel requests (the K flag, a fresh random "client
// key", a junk box) from several sockets, to watch it demand puzzles instead of spending
// a key agreement on each while a real client still gets its tunnel:
//
//   tapsec listen minimalt 4500 --directory dir.hex --puzzle-threshold 50 --verbose &
//   minimalt_flood 127.0.0.1:4500 10 &        # 10 seconds, ~8000 requests/s
//   tapsec connect minimalt 127.0.0.1:4500 --directory dir.hex --server-key ... --verbose
//
// The client reports "(after solving its puzzle)"; the listener reports how many puzzles
// it sent and how few key agreements the flood cost it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <tapsec/minimalt.hpp>

int main(int argc, char** argv) {
    using namespace tapsec;
    if (argc < 3) {
        std::fprintf(stderr, "usage: minimalt_flood HOST:PORT SECONDS\n");
        return 2;
    }
    auto target = Endpoint::parse(argv[1]);
    const int seconds = std::atoi(argv[2]);
    if (!target || seconds <= 0) {
        std::fprintf(stderr, "minimalt_flood: HOST:PORT and a number of seconds, please\n");
        return 2;
    }
    std::vector<Udp> sockets;
    for (int i = 0; i < 8; ++i) {
        auto s = Udp::connect(*target);
        if (!s) {
            std::fprintf(stderr, "minimalt_flood: %s\n", s.error().message().c_str());
            return 1;
        }
        sockets.push_back(std::move(*s));
    }
    std::array<std::uint8_t, minimalt::min_request_size + 44> request{};
    std::uint64_t sent = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < end) {
        for (auto& s : sockets) {
            crypto::Botan2::random(request);
            request[0] = static_cast<std::uint8_t>((request[0] | 0x80) & 0xbf);  // K set, P clear
            (void)s.send_to(request, *target);
            ++sent;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::printf("minimalt_flood: %llu tunnel requests sent\n", static_cast<unsigned long long>(sent));
    return 0;
}
