// QUIC v1 (RFC 9000 / 9001 / 9002) keyed by the TLS 1.3 handshake: see docs/quic.md.
#pragma once

#include "quic/connection.hpp"
#include "quic/endpoint.hpp"
#include "quic/errors.hpp"
#include "quic/frames.hpp"
#include "quic/packet_protection.hpp"
#include "quic/record.hpp"
#include "quic/recovery.hpp"
#include "quic/streams.hpp"
#include "quic/transport_parameters.hpp"
#include "quic/wire.hpp"
