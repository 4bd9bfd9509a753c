// ZRTP alone: Secure<ZrtpHandshake, SrtpRecord, Udp>.
// Header-only; includes only what this composition needs.
#pragma once

#include "core/secure.hpp"
#include "crypto/botan.hpp"
#include "srtp/record.hpp"
#include "transport/memory.hpp"
#include "transport/udp.hpp"
#include "zrtp/policy.hpp"
