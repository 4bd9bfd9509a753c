// IKEv2 keying ESP: Secure<Ikev2Handshake, EspRecord, Udp>. Header-only.
#pragma once

#include "core/secure.hpp"
#include "crypto/botan.hpp"
#include "ikev2/eap_md5.hpp"
#include "ikev2/policy.hpp"
#include "transport/memory.hpp"
#include "transport/udp.hpp"
