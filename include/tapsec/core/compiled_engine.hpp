// Separate compilation (opt-in, TAPSEC_SEPARATE_COMPILATION; the tapsec::compiled
// library). The convention Asio and Beast use: the library stays header-only by
// default; a program that defines TAPSEC_SEPARATE_COMPILATION and links
// tapsec::compiled gets the protocol engines of the shipped compositions (default
// provider) from that library instead of instantiating them in every translation unit.
//
// How: Secure<H, R, T, C> drives a CompiledEngine<H, R, C> when
// `compiled_composition<H, R, C>` is true. CompiledEngine is a handle: it declares the
// sans-I/O engine contract (core/engine.hpp) and keeps the real engine behind a pointer,
// so a program's translation unit parses neither the engine's templates' bodies nor the
// provider's library headers (Botan); src/compiled_<protocol>.cpp defines it by
// forwarding to `typename H::template engine<R, C>` (compiled_engine_impl.hpp) and
// instantiates it explicitly.
//
// What a handle does not offer: engine-specific members beyond the contract (a TLS
// record layer for tests, a WireGuard peer table). Programs that need them use the
// header-only mode. The provider rules of the composition (C is a provider, H and R run
// on it, PKI validation where needed) are checked where C is complete: in the library.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>

#include "bytes.hpp"
#include "config.hpp"
#include "endpoint.hpp"
#include "engine.hpp"
#include "errors.hpp"

namespace tapsec {

/// True for the compositions the tapsec::compiled library ships; a protocol's compiled
/// header (e.g. <tapsec/tls13.hpp> in compiled mode) specialises it.
template <class H, class R, class C>
inline constexpr bool compiled_composition = false;

/// Which optional members of the contract the real engine has. Declared next to
/// compiled_composition; the library checks it against the engine it compiles
/// (compiled_engine_impl.hpp), so a handle never offers what the engine lacks.
template <class H, class R, class C>
struct compiled_capabilities {
    static constexpr bool update_keys = false;
    static constexpr bool export_keying_material = false;
    static constexpr bool send_early_data = false;
    static constexpr bool caller_buffer = false;  // poll_transmit(MutableByteView)
    static constexpr bool view_receive = false;   // poll_plaintext()
};

template <class H, class R, class C>
class CompiledEngine {
public:
    using Config = typename H::Config;

    CompiledEngine(Role role, const Config& config);
    CompiledEngine(CompiledEngine&&) noexcept;
    CompiledEngine& operator=(CompiledEngine&&) noexcept;
    ~CompiledEngine();

    // ---- the sans-I/O contract (core/engine.hpp) ---------------------------------------
    [[nodiscard]] std::error_code start(Instant now);
    [[nodiscard]] std::error_code receive(ByteView in, const Endpoint& from, Instant now);
    std::optional<Transmit> poll_transmit();
    std::optional<Bytes> poll_application_data();
    std::optional<Event> poll_event();
    [[nodiscard]] std::error_code send(ByteView data, Instant now);
    std::optional<Instant> next_timeout() const;
    [[nodiscard]] std::error_code on_timeout(Instant now);
    [[nodiscard]] std::error_code close(Instant now);
    bool is_established() const;
    bool is_closed() const;
    SessionInfo session_info() const;

    // ---- optional members, present when the engine has them ----------------------------
    [[nodiscard]] std::error_code update_keys(bool request_peer_update, Instant now)
        requires(compiled_capabilities<H, R, C>::update_keys);
    [[nodiscard]] Result<SecretBytes> export_keying_material(std::string_view label, ByteView context,
                                                             std::size_t length) const
        requires(compiled_capabilities<H, R, C>::export_keying_material);
    [[nodiscard]] std::error_code send_early_data(ByteView data, Instant now)
        requires(compiled_capabilities<H, R, C>::send_early_data);
    std::optional<TransmitInfo> poll_transmit(MutableByteView out)
        requires(compiled_capabilities<H, R, C>::caller_buffer);
    std::optional<ByteView> poll_plaintext()
        requires(compiled_capabilities<H, R, C>::view_receive);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tapsec
