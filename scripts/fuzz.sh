#!/usr/bin/env bash
# Builds every libFuzzer target with clang 14 (ASan + UBSan, -fno-sanitize-recover=all,
# so a UBSan report fails too) in build-fuzz/ and runs each for SECONDS seconds
# (default 60), starting from its checked-in seed corpus fuzz/corpus/<target>/ when
# there is one. Any crash, sanitizer report, leak or timeout fails the script.
# For hours-long runs with corpus merging, see scripts/fuzz-long.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTAPSEC_BUILD_FUZZERS=ON -DTAPSEC_BUILD_TESTS=OFF -DTAPSEC_BUILD_TOOLS=OFF \
  -DTAPSEC_BUILD_COMPILED=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)"
shopt -s nullglob
targets=(build-fuzz/fuzz/*_fuzz)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets"; exit 0; }
for t in "${targets[@]}"; do
  name=$(basename "$t")
  mkdir -p "build-fuzz/corpus/$name"
  seeds=()
  [ -d "fuzz/corpus/$name" ] && seeds=("fuzz/corpus/$name")
  echo "fuzz: $name for ${seconds}s"
  # New inputs go to build-fuzz/corpus/<name> (the first directory); the seeds are read only.
  "$t" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -print_final_stats=0 \
    "build-fuzz/corpus/$name" "${seeds[@]}" 2>"build-fuzz/$name.log" \
    || { tail -40 "build-fuzz/$name.log"; echo "fuzz: $name FAILED"; exit 1; }
done
echo "fuzz: ${#targets[@]} targets ran clean"
