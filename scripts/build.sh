#!/usr/bin/env bash
# Configures and builds tapsec (library, `tapsec` command, tests, benchmarks) in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
# -O2 -g1: optimized as RelWithDebInfo, but line tables only instead of full debug info
# (backtraces and perf still name lines). GCC 12 compiles a test file about 40% faster
# with -g1 than with -g (31 s against 52 s of CPU for unit/quic_connection_test.cpp,
# measured 2026-12-01), and the build is the largest part of the CI run. Pass
# -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g -DNDEBUG" for full debug info.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DTAPSEC_BUILD_BENCHMARKS=ON "$@" >/dev/null
cmake --build build -j"$(nproc)"
