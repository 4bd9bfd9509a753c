// MinimaLT alone: Secure<MinimaltHandshake, MinimaltRecord, Udp>.
#pragma once

#include "core/secure.hpp"
#include "crypto/botan.hpp"
#include "minimalt/policies.hpp"
#include "transport/memory.hpp"
#include "transport/udp.hpp"
