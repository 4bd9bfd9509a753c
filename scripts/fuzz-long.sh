#!/usr/bin/env bash
# Long fuzzing: every libFuzzer target for HOURS hours in all (default 1), each with -fork=JOBS (default 1, so that it never takes more than
# one core on a shared machine; it runs under `nice`), starting from the checked-in seeds
# and the corpus of earlier long runs, which it keeps in build-fuzz/long-corpus/<target>/.
# At the end each target's corpus is merged (-merge=1) into fuzz/corpus/<target>/ when
# the merged corpus stays small (MAX_SEED_KB, default 64 KB per target), so that the CI
# run starts deeper next time. A per-target line with executions, coverage (cov),
# features (ft), corpus size and findings goes to build-fuzz/long-report.txt, for
# docs/fuzzing.md. Findings (crash-*, leak-*, timeout-*, oom-*) are kept in
# build-fuzz/findings/<target>/ and make the script exit non-zero.
#
# The time is shared out as the run goes: each target gets the time left divided by the
# targets left, and in-process (JOBS = 1) stops early once it has executed RUNS inputs
# (default 10,000,000, the project's depth goal), so the time a fast target does not need
# goes to the slower ones after it.
#
# Usage: [RUNS=N] [NICE=N] [SKIP_BUILD=1] scripts/fuzz-long.sh [HOURS] [JOBS] [TARGET_REGEX]
set -euo pipefail
cd "$(dirname "$0")/.."
hours="${1:-1}"
jobs="${2:-1}"
only="${3:-.}"
max_seed_kb="${MAX_SEED_KB:-64}"
runs="${RUNS:-10000000}"
niceness="${NICE:-10}"
[ "${SKIP_BUILD:-0}" = 1 ] || cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" \
  -DTAPSEC_BUILD_FUZZERS=ON -DTAPSEC_BUILD_TESTS=OFF -DTAPSEC_BUILD_TOOLS=OFF >/dev/null
shopt -s nullglob
names=()
for source in fuzz/*_fuzz.cpp; do
  name=$(basename "$source" .cpp)
  [[ $name =~ $only ]] && names+=("$name")
done
[ ${#names[@]} -gt 0 ] || { echo "fuzz-long: no target matches '$only'"; exit 1; }
# SKIP_BUILD=1: use the binaries as they are (another build is running in build-fuzz/).
[ "${SKIP_BUILD:-0}" = 1 ] || nice -n 10 cmake --build build-fuzz -j"$jobs" --target "${names[@]}"
targets=()
for name in "${names[@]}"; do targets+=("build-fuzz/fuzz/$name"); done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz-long: no targets"; exit 1; }
report=build-fuzz/long-report.txt
echo "# fuzz-long $(date -u +%Y-%m-%dT%H:%MZ): ${#targets[@]} targets, $hours h in all, up to $runs runs each, jobs=$jobs, nice $niceness, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$report"
deadline=$(( $(date +%s) + $(awk -v h="$hours" 'BEGIN { print int(h * 3600) }') ))
failed=0
left=${#targets[@]}
for t in "${targets[@]}"; do
  name=$(basename "$t")
  per_target=$(( (deadline - $(date +%s)) / left ))
  [ "$per_target" -ge 10 ] || per_target=10
  left=$((left - 1))
  corpus="build-fuzz/long-corpus/$name"
  findings="build-fuzz/findings/$name"
  mkdir -p "$corpus" "$findings" "fuzz/corpus/$name"
  log="build-fuzz/$name.long.log"
  echo "fuzz-long: $name for ${per_target}s"
  # JOBS > 1: -fork keeps going after a finding (-ignore_crashes) so one bug does not end
  # the target's run. JOBS = 1: in-process (fork mode restarts short jobs that reload the
  # corpus, measured here at 1/50 of the in-process rate); a finding ends that target's run.
  status=0
  if [ "$jobs" -gt 1 ]; then mode=(-fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1); else mode=(-runs="$runs"); fi
  started=$(date +%s)
  (cd "$findings" && nice -n "$niceness" "../../../$t" "${mode[@]}" \
      -max_total_time="$per_target" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1 \
      "../../../$corpus" "../../../fuzz/corpus/$name") >"$log" 2>&1 || status=$?
  found=$(find "$findings" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  # Executions and coverage as libFuzzer reports them (the last "#N" status line).
  execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  seconds=$(( $(date +%s) - started ))
  # Merge: the smallest set of inputs that keeps all features, into a fresh directory.
  merged="build-fuzz/merged/$name"
  rm -rf "$merged" && mkdir -p "$merged"
  nice -n "$niceness" "$t" -merge=1 "$merged" "$corpus" "fuzz/corpus/$name" >"build-fuzz/$name.merge.log" 2>&1 || true
  files=$(find "$merged" -type f | wc -l)
  kb=$(find "$merged" -type f -printf '%s\n' | awk '{ s += $1 } END { print int((s + 1023) / 1024) }')
  if [ "$files" -gt 0 ] && [ "$kb" -le "$max_seed_kb" ]; then
    rm -rf "fuzz/corpus/$name" && cp -r "$merged" "fuzz/corpus/$name"
    kept="kept in fuzz/corpus"
  else
    kept="not kept (over ${max_seed_kb} KB)"
  fi
  [ "$found" -eq 0 ] || failed=1
  [ "$status" -eq 0 ] || [ "$found" -gt 0 ] || failed=1
  printf '%s seconds=%s execs=%s cov=%s ft=%s corpus=%s files/%s KB (%s) findings=%s exit=%s\n' \
    "$name" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$files" "$kb" "$kept" "$found" "$status" | tee -a "$report"
done
exit "$failed"
