// Botan::TLS::Session_Manager over tapsec's SessionCache (6.1 session cache
// management): the application decides where sessions live; Botan only sees this.
//
// A client finds its session by "host:port" of the server, a server by session id.
// Entries are Botan's DER session encoding, which contains the master secret: the
// application's cache must be treated as secret storage (InMemorySessionCache is).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <botan/hex.h>
#include <botan/tls_session_manager.h>

#include "../core/config.hpp"

namespace tapsec::botan_tls {

class SessionCacheBridge final : public Botan::TLS::Session_Manager {
public:
    /// `prefix` keeps TLS and DTLS sessions apart in one shared cache.
    SessionCacheBridge(std::shared_ptr<SessionCache> cache, std::string prefix, std::function<void()> on_store = {})
        : cache_(std::move(cache)), prefix_(std::move(prefix)), on_store_(std::move(on_store)) {}

    bool load_from_session_id(const std::vector<std::uint8_t>& session_id, Botan::TLS::Session& session) override {
        return load(id_key(session_id), session);
    }
    bool load_from_server_info(const Botan::TLS::Server_Information& info, Botan::TLS::Session& session) override {
        return load(server_key(info), session);
    }
    void remove_entry(const std::vector<std::uint8_t>& session_id) override {
        if (cache_) cache_->remove(id_key(session_id));
    }
    std::size_t remove_all() override { return 0; }  // the application owns the cache's lifetime
    void save(const Botan::TLS::Session& session) override {
        if (!cache_) return;
        const auto der = session.DER_encode();
        const Bytes encoded(der.begin(), der.end());
        if (session.side() == Botan::TLS::CLIENT)
            cache_->store(server_key(session.server_info()), encoded);
        else if (!session.session_id().empty())
            cache_->store(id_key(session.session_id()), encoded);
        if (on_store_) on_store_();
    }
    std::chrono::seconds session_lifetime() const override { return std::chrono::hours(24); }

private:
    std::string id_key(const std::vector<std::uint8_t>& id) const { return prefix_ + "id:" + Botan::hex_encode(id); }
    std::string server_key(const Botan::TLS::Server_Information& info) const {
        return prefix_ + "server:" + info.hostname() + ":" + std::to_string(info.port());
    }
    bool load(const std::string& key, Botan::TLS::Session& session) {
        if (!cache_) return false;
        auto data = cache_->load(key);
        if (!data) return false;
        try {
            Botan::TLS::Session loaded(data->data(), data->size());
            if (loaded.session_age() > session_lifetime()) {
                cache_->remove(key);
                return false;
            }
            session = std::move(loaded);
            return true;
        } catch (const std::exception&) {
            cache_->remove(key);  // unreadable entry: forget it rather than fail the handshake
            return false;
        }
    }

    std::shared_ptr<SessionCache> cache_;
    std::string prefix_;
    std::function<void()> on_store_;
};

}  // namespace tapsec::botan_tls
