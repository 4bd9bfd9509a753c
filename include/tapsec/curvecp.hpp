// CurveCP alone: Secure<CurveCpHandshake, CurveCpRecord, Udp>.
#pragma once

#include "core/secure.hpp"
#include "crypto/botan.hpp"
#include "curvecp/policies.hpp"
#include "transport/memory.hpp"
#include "transport/udp.hpp"
