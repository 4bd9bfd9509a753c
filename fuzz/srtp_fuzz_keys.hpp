// Shared by the SRTP and SRTCP fuzz targets: fixed master keys for a profile, so every
// finding replays from its input alone. `first` is the first of four byte values used
// for client key, client salt, server key and server salt.
#pragma once

#include <cstdint>

#include <tapsec/srtp/record.hpp>

namespace tapsec::fuzz {

inline srtp::MasterKeys srtp_fuzz_keys(srtp::Profile p, std::uint8_t first) {
    const auto params = srtp::parameters(p);
    srtp::MasterKeys k;
    k.profile = p;
    k.client_write.key.assign(params.master_key_length, first);
    k.client_write.salt.assign(params.master_salt_length, static_cast<std::uint8_t>(first + 1));
    k.server_write.key.assign(params.master_key_length, static_cast<std::uint8_t>(first + 2));
    k.server_write.salt.assign(params.master_salt_length, static_cast<std::uint8_t>(first + 3));
    return k;
}

}  // namespace tapsec::fuzz
