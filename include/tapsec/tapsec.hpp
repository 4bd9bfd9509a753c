// Umbrella header: the framework, the transports and every implemented composition.
#pragma once

#include "core/bytes.hpp"
#include "core/config.hpp"
#include "core/dependencies.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "core/features.hpp"
#include "core/replay_window.hpp"
#include "core/secure.hpp"
#include "core/wire.hpp"
#include "crypto/botan.hpp"
#include "transport/memory.hpp"
#include "transport/tcp.hpp"
#include "transport/udp.hpp"
#include "protocols.hpp"
