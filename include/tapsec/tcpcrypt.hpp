// tcpcrypt (RFC 8548) negotiated by TCP-ENO (RFC 8547):
// Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno>. See docs/tcpcrypt.md.
#pragma once

#include "core/secure.hpp"
#include "crypto/botan.hpp"
#include "tcp_eno/transport.hpp"
#include "tcpcrypt/policy.hpp"
