// Test support: a QUIC client and server joined in memory, with a simulated clock and
// an optional lossy, reordering, duplicating path (seeded, so runs repeat).
#pragma once

#include <deque>
#include <random>

#include <tapsec/quic.hpp>

#include "support/pki.hpp"

namespace tapsec::test {

struct QuicConfigs {
    tls13::Config client, server;
};

inline QuicConfigs quic_configs(TestPki& pki, const std::string& alpn = "tapsec") {
    auto leaf = pki.issue("quic-server", KeyType::ecdsa_p256);
    QuicConfigs c;
    c.server.identity = Identity(leaf.certificate_pem(), leaf.key_pem());
    c.server.alpn = {alpn};
    c.client.trust.ca_certificates_pem = {pki.ca().certificate_pem()};
    c.client.server_name = "localhost";
    c.client.alpn = {alpn};
    return c;
}

/// quic_configs with resumption on: the server issues one ticket (a fresh ticket key,
/// its own anti-replay state) and the client stores sessions in `cache`.
inline QuicConfigs quic_resumption_configs(TestPki& pki, std::shared_ptr<SessionCache> cache) {
    QuicConfigs c = quic_configs(pki);
    c.server.tickets_to_send = 1;
    c.server.ticket_key = tls13::TicketKey::generate<crypto::DefaultProvider>();
    c.server.anti_replay = std::make_shared<tls13::AntiReplay>();
    c.client.session_cache = std::move(cache);
    return c;
}

struct PathModel {
    double loss = 0, duplicate = 0, reorder = 0;
    std::chrono::microseconds delay{5000};
    unsigned seed = 1;
};

/// Two connections and the datagrams between them; time advances only when nothing is
/// in flight and both wait for a timer.
class QuicPair {
public:
    using Conn = quic::Connection<>;

    QuicPair(const QuicConfigs& c, quic::Settings client_settings = {}, quic::Settings server_settings = {},
             PathModel path = {})
        : client(Role::client, c.client, client_settings), server(Role::server, c.server, server_settings),
          path_(path), rng_(path.seed) {
        client_ep = *Endpoint::parse("127.0.0.1", 40001);
        server_ep = *Endpoint::parse("127.0.0.1", 40002);
    }

    /// Moves datagrams both ways until `done()` or `limit` simulated time passes.
    template <class Done>
    bool run(Done done, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
        const Instant end = now + limit;
        while (now < end) {
            if (done()) return true;
            // Every step runs (no short-circuit): both sides send, both queues deliver.
            bool moved = pump(client, server, to_server_);
            moved = pump(server, client, to_client_) || moved;
            moved = deliver(to_server_, server, client_ep) || moved;
            moved = deliver(to_client_, client, server_ep) || moved;
            if (done()) return true;
            if (moved) continue;
            // Idle: advance to the next event (a datagram arriving or a timer).
            std::optional<Instant> next;
            auto consider = [&](std::optional<Instant> t) {
                if (t && (!next || *t < *next)) next = t;
            };
            consider(client.next_timeout());
            consider(server.next_timeout());
            if (!to_server_.empty()) consider(to_server_.front().at);
            if (!to_client_.empty()) consider(to_client_.front().at);
            if (!next) return done();
            now = std::max(now, *next);
            if (auto t = client.next_timeout(); t && *t <= now) client.on_timeout(now);
            if (auto t = server.next_timeout(); t && *t <= now) server.on_timeout(now);
        }
        return done();
    }

    Conn client, server;
    Endpoint client_ep, server_ep;
    Instant now = Instant{} + std::chrono::seconds(1000);
    std::size_t datagrams = 0;
    /// Tamper with each datagram on its way (tests).
    std::function<void(Bytes&, bool to_server)> tamper;

private:
    struct InFlight {
        Instant at;
        Bytes data;
    };

    bool pump(Conn& from, Conn&, std::deque<InFlight>& queue) {
        bool moved = false;
        Bytes buf(max_transmit_size);
        while (auto t = from.poll_transmit(MutableByteView(buf))) {
            Bytes d(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size));
            ++datagrams;
            moved = true;
            if (tamper) tamper(d, &queue == &to_server_);
            std::uniform_real_distribution<double> u(0, 1);
            if (u(rng_) < path_.loss) continue;
            Instant at = now + path_.delay;
            if (u(rng_) < path_.reorder) at += path_.delay;  // arrives after later ones
            insert(queue, {at, d});
            if (u(rng_) < path_.duplicate) insert(queue, {at + path_.delay / 2, d});
        }
        return moved;
    }
    static void insert(std::deque<InFlight>& q, InFlight f) {
        auto it = std::upper_bound(q.begin(), q.end(), f.at, [](Instant t, const InFlight& x) { return t < x.at; });
        q.insert(it, std::move(f));
    }
    bool deliver(std::deque<InFlight>& queue, Conn& to, const Endpoint& from) {
        bool moved = false;
        while (!queue.empty() && queue.front().at <= now) {
            Bytes d = std::move(queue.front().data);
            queue.pop_front();
            to.receive(d, from, now);
            moved = true;
        }
        return moved;
    }

    PathModel path_;
    std::mt19937 rng_;
    std::deque<InFlight> to_server_, to_client_;
};

}  // namespace tapsec::test
