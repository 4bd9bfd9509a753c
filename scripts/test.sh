#!/usr/bin/env bash
# The whole test suite: install dependencies, build, run every CTest test (labels
# unit, vectors, interop, compile-fail), then the unit and vector tests again under
# ASan + UBSan (scripts/sanitize.sh), then each libFuzzer target for a short, bounded
# run from its seed corpus. Interop tests need root for network namespaces (as on CI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 900)
bash scripts/sanitize.sh
bash scripts/fuzz.sh 12
