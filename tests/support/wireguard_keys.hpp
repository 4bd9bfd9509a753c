// WireGuard static keys for in-memory tests: a fresh Curve25519 private key and its
// public half.
#pragma once

#include <tapsec/tapsec.hpp>

namespace tapsec::test {

inline SecretArray<32> random_private_key() {
    SecretArray<32> k;
    crypto::Botan2::random(k);
    return k;
}

inline wireguard::Key public_of(const SecretArray<32>& priv) {
    return wireguard::StaticIdentity<crypto::Botan2>::from_private(priv)->public_key;
}

}  // namespace tapsec::test
