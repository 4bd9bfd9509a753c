// Every implemented protocol, one include per folder. Add yours here.
#pragma once

#include "tls13/engine.hpp"
