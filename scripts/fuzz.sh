#!/usr/bin/env bash
# Builds every libFuzzer target with clang 14 (ASan + UBSan, -fno-sanitize-recover=all,
# so a UBSan report fails too) in build-fuzz/ and runs each for SECONDS seconds
# (default 60), starting from its checked-in seed corpus fuzz/corpus/<target>/ when
# there is one. Any crash, sanitizer report, leak or timeout fails the script.
# For hours-long runs with corpus merging, see scripts/fuzz-long.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
# Line tables only (-gline-tables-only): enough for symbolized sanitizer reports, and
# a lighter build than full debug info.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" \
  -DTAPSEC_BUILD_FUZZERS=ON -DTAPSEC_BUILD_TESTS=OFF -DTAPSEC_BUILD_TOOLS=OFF \
  -DTAPSEC_BUILD_COMPILED=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)"
shopt -s nullglob
targets=(build-fuzz/fuzz/*_fuzz)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets"; exit 0; }
# One target per core at a time (xargs -P): each run is single-threaded, so two cores
# halve the wall time. A failing target prints its log's tail and fails the script.
run_one() {
  local t="$1" name seeds=()
  name=$(basename "$t")
  mkdir -p "build-fuzz/corpus/$name"
  [ -d "fuzz/corpus/$name" ] && seeds=("fuzz/corpus/$name")
  # New inputs go to build-fuzz/corpus/<name> (the first directory); the seeds are read only.
  if "$t" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1 \
       "build-fuzz/corpus/$name" "${seeds[@]}" >"build-fuzz/$name.log" 2>&1; then
    # The execution count shows how deep a short run went (stat::number_of_executed_units).
    echo "fuzz: $name clean after ${seconds}s, $(sed -n 's/^stat::number_of_executed_units: *//p' "build-fuzz/$name.log") executions"
  else
    tail -40 "build-fuzz/$name.log"
    echo "fuzz: $name FAILED"
    return 1
  fi
}
export -f run_one
export seconds
printf '%s\0' "${targets[@]}" | xargs -0 -n1 -P"$(nproc)" bash -c 'run_one "$1"' _ \
  || { echo "fuzz: at least one target failed"; exit 1; }
echo "fuzz: ${#targets[@]} targets ran clean"
