// DTLS 1.2 alone (Botan's TLS stack): Secure<Dtls12Handshake, DtlsRecord, Udp>.
// Header-only; includes only what this protocol needs (see <tapsec/tls13.hpp> for the
// separately compiled mode).
#pragma once

#include "core/secure.hpp"
#include "crypto/botan.hpp"
#include "dtls/dtls12.hpp"
#include "transport/memory.hpp"
#include "transport/udp.hpp"
