// Every implemented protocol, one include per folder. Add yours here.
#pragma once

#include "dtls/dtls12.hpp"
#include "dtls_srtp/dtls_srtp.hpp"
#include "ikev2/policy.hpp"
#include "srtp/record.hpp"
#include "tls12/tls12.hpp"
#include "tls13/engine.hpp"
#include "tcpcrypt/policy.hpp"
#include "tls13/record.hpp"
#include "quic/connection.hpp"
#include "wireguard/policies.hpp"
#include "zrtp/policy.hpp"
#include "curvecp/policies.hpp"
#include "minimalt/policies.hpp"
