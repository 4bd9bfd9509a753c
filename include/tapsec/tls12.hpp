// TLS 1.2 alone (Botan's TLS stack): Secure<Tls12Handshake, Tls12Record, Tcp>.
// Header-only; includes only what this protocol needs (see <tapsec/tls13.hpp> for the
// separately compiled mode).
#pragma once

#include "core/secure.hpp"
#include "crypto/botan.hpp"
#include "tls12/tls12.hpp"
#include "transport/memory.hpp"
#include "transport/tcp.hpp"
