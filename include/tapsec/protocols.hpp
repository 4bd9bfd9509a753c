// Every implemented protocol, one include per folder. Add yours here.
#pragma once

#include "wireguard/policies.hpp"
