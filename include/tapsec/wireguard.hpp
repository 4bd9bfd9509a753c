// WireGuard alone: Secure<WireGuardHandshake, WireGuardRecord, Udp>.
// Header-only; includes only what this protocol needs (see <tapsec/tls13.hpp> for the
// separately compiled mode).
#pragma once

#include "core/secure.hpp"
#include "crypto/botan.hpp"
#include "wireguard/policies.hpp"
#include "transport/memory.hpp"
#include "transport/udp.hpp"
