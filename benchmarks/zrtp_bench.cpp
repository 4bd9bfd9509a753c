// ZRTP: complete key agreements per second (two engines in memory, Hello through
// Conf2ACK, both sides keyed with SRTP), for X25519 and P-256, next to the raw key
// agreement of the same group in the same run (one exchange costs each side one key
// generation and one agreement, plus SHA-256/HMAC for the hash chain, KDF and Confirms).
#include <algorithm>

#include <tapsec/zrtp.hpp>

#include "harness.hpp"
#include "unit/zrtp_pair.hpp"

namespace {

using namespace tapsec;
using namespace tapsec::zrtp;

void run(bench::Report& report) {
    using Provider = crypto::DefaultProvider;
    for (AlgorithmCode ka : {algo::x255, algo::ec25}) {
        const std::string group = algorithm_name(ka);
        Config config;
        config.key_agreements = {ka};
        auto exchange_body = [&] {
            test::ZrtpPair p(config, config);
            p.start();
            if (!p.run() || p.a.sas()->value != p.b.sas()->value) std::abort();
        };
        const auto kg = ka == algo::x255 ? crypto::KeyExchangeGroup::x25519 : crypto::KeyExchangeGroup::secp256r1;
        const Bytes peer_public = Provider::KeyShare::generate(kg)->public_key();
        auto raw_body = [&] {
            auto fresh = Provider::KeyShare::generate(kg);
            if (!fresh->agree(peer_public)) std::abort();
        };
        // The machine is shared: interleave the two and keep each one's best round.
        double exchanges = 0, raw = 0;
        for (int round = 0; round < 3; ++round) {
            exchanges = std::max(exchanges, bench::measure(exchange_body, std::chrono::milliseconds(400)).per_second());
            raw = std::max(raw, bench::measure(raw_body, std::chrono::milliseconds(400)).per_second());
        }
        report.value("ZRTP key agreements (both sides), " + group, exchanges, "exchanges/s",
                     "Hello..Conf2ACK, SRTP keyed on both sides, best of 3 interleaved rounds");
        report.value("raw key generation + agreement, " + group, raw, "ops/s", "an exchange needs 2 (one per side)");
        report.ratio("exchange / (raw / 2), " + group, exchanges, raw / 2,
                     "1.0 would mean the two key agreements are the whole cost");
    }
}

const bench::Registration registration{{"zrtp", "ZRTP key agreements/s (X25519, P-256) vs raw key agreement", run}};

}  // namespace
