#!/usr/bin/env bash
# Configures and builds tapsec (library, `tapsec` command, tests, benchmarks) in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAPSEC_BUILD_BENCHMARKS=ON "$@" >/dev/null
cmake --build build -j"$(nproc)"
