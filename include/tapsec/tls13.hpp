// TLS 1.3 alone: Secure<Tls13Handshake, AeadRecord, Tcp> (or MemoryStream) and what
// it needs, without the other protocols. With TAPSEC_SEPARATE_COMPILATION (set by
// linking tapsec::compiled) the engine for the default provider comes from the library
// and this header pulls in neither the engine's code nor Botan's headers.
#pragma once

#include "core/secure.hpp"
#include "tls13/handshake.hpp"
#include "tls13/record.hpp"
#include "transport/memory.hpp"
#include "transport/tcp.hpp"

#if defined(TAPSEC_SEPARATE_COMPILATION)
namespace tapsec {
template <>
inline constexpr bool compiled_composition<Tls13Handshake, AeadRecord, crypto::DefaultProvider> = true;
template <>
struct compiled_capabilities<Tls13Handshake, AeadRecord, crypto::DefaultProvider> {
    static constexpr bool update_keys = true;
    static constexpr bool export_keying_material = true;
    static constexpr bool send_early_data = true;
    static constexpr bool caller_buffer = true;
    static constexpr bool view_receive = true;
};
}  // namespace tapsec
#else
#include "crypto/botan.hpp"
#include "tls13/engine.hpp"
#endif
