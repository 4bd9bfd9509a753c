#!/usr/bin/env bash
# The whole test suite: install dependencies, build, run every CTest test (labels
# unit, vectors, interop, compile-fail), then the unit and vector tests again under
# ASan + UBSan (scripts/sanitize.sh), then each libFuzzer target for a short, bounded
# run from its seed corpus. Interop tests need root for network namespaces (as on CI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
if ! (cd build && ctest --output-on-failure -j"$(nproc)" --timeout 900); then
    # An interop or stress test talks to real peers and timers on a loaded machine: one that
    # failed runs once more, alone, and is named here (a second failure fails the suite).
    # Unit, vector and compile-fail tests get no second run.
    failed="$(cat build/Testing/Temporary/LastTestsFailed.log)"
    if grep -qv -e ':interop\.' -e ':stress\.' <<<"$failed"; then exit 1; fi
    echo "tapsec: FLAKY? these interop/stress tests failed in the parallel run; running them again alone:"
    sed 's/^/  /' <<<"$failed"
    (cd build && ctest --output-on-failure --rerun-failed --timeout 900)
    echo "tapsec: they passed alone: the parallel failure above is to be investigated, not ignored"
fi
bash scripts/sanitize.sh
bash scripts/fuzz.sh 12
