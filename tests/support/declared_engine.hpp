// An engine that satisfies SansIoEngine so that composition *types* can be
// instantiated in compile-time tests and the instantiation benchmark. It is never
// run and no protocol uses it.
#pragma once

#include <tapsec/core/engine.hpp>
// Compositions built on this engine use Secure<>'s default provider, which core/ only
// declares (core/ includes no Botan header): define it here for them.
#include <tapsec/crypto/botan.hpp>

namespace tapsec::test {

struct DeclaredOnlyEngine {
    DeclaredOnlyEngine(Role, const CommonConfig&) {}
    std::error_code start(Instant) { return {}; }
    std::error_code receive(ByteView, const Endpoint&, Instant) { return {}; }
    std::optional<Transmit> poll_transmit() { return std::nullopt; }
    std::optional<Bytes> poll_application_data() { return std::nullopt; }
    std::optional<Event> poll_event() { return std::nullopt; }
    std::error_code send(ByteView, Instant) { return {}; }
    std::optional<Instant> next_timeout() { return std::nullopt; }
    std::error_code on_timeout(Instant) { return {}; }
    std::error_code close(Instant) { return {}; }
    bool is_established() const { return false; }
    bool is_closed() const { return false; }
    SessionInfo session_info() const { return {}; }
};
static_assert(SansIoEngine<DeclaredOnlyEngine>);

}  // namespace tapsec::test
