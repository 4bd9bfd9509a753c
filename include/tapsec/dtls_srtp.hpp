// DTLS-SRTP alone: Secure<DtlsSrtpHandshake, SrtpRecord, Udp>.
// Header-only; includes only what this protocol needs (see <tapsec/tls13.hpp> for the
// separately compiled mode).
#pragma once

#include "core/secure.hpp"
#include "crypto/botan.hpp"
#include "dtls_srtp/dtls_srtp.hpp"
#include "srtp/record.hpp"
#include "transport/memory.hpp"
#include "transport/udp.hpp"
