#!/usr/bin/env bash
# Compile-time cost of compositions: compiles TUs with 0, 1, 10, 50 and 100 distinct
# Secure<> types (best of 3 for time; peak compiler RSS from /usr/bin/time), and
# writes docs/benchmarks/instantiation.{md,csv,png}. Usage: run.sh [compiler]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cxx="${1:-g++}"
out="$root/docs/benchmarks"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
flags="-std=c++20 -O2 -c -I$root/include -I$root/tests $(pkg-config --cflags botan-2)"
csv="$out/instantiation.csv"
echo "compositions,seconds,peak_mb" > "$csv"
for n in 0 1 10 50 100; do
  bash "$here/generate.sh" "$n" > "$work/tu_$n.cpp"
  best=""
  peak=0
  for run in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$work/time" $cxx $flags "$work/tu_$n.cpp" -o "$work/tu_$n.o"
    read -r secs kb < "$work/time"
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; fi
    (( kb > peak )) && peak=$kb
  done
  echo "$n,$best,$(awk "BEGIN{printf \"%.1f\", $peak/1024}")" >> "$csv"
  echo "n=$n: ${best}s, peak $((peak / 1024)) MB" >&2
done
base_s=$(awk -F, 'NR==2{print $2}' "$csv"); base_mb=$(awk -F, 'NR==2{print $3}' "$csv")
{
  echo "# Compile-time cost of compositions"
  echo
  echo "Measured $(date -u +%Y-%m-%d) with \`$($cxx --version | head -1)\`, \`-std=c++20 -O2\`, one TU"
  echo "per row (best of 3 runs; peak resident memory of the compiler). Each composition is a"
  echo "distinct \`Secure<H, R, T>\` with its feature set folded from Hana sets, its dependency"
  echo "concepts checked (\`Composable\`) and features queried in \`static_assert\` and \`if constexpr\`."
  echo "Regenerate with \`bash benchmarks/instantiation/run.sh\`."
  echo
  echo "| compositions | compile time (s) | peak memory (MB) | added time per composition (ms) | added memory per composition (MB) |"
  echo "|---:|---:|---:|---:|---:|"
  tail -n +2 "$csv" | while IFS=, read -r n s mb; do
    if [ "$n" -eq 0 ]; then echo "| 0 (headers only) | $s | $mb | - | - |"; continue; fi
    echo "| $n | $s | $mb | $(awk "BEGIN{printf \"%.1f\", ($s-$base_s)*1000/$n}") | $(awk "BEGIN{printf \"%.2f\", ($mb-$base_mb)/$n}") |"
  done
} > "$out/instantiation.md"
if command -v gnuplot >/dev/null; then
  gnuplot <<PLOT
set terminal pngcairo size 800,480 noenhanced
set output "$out/instantiation.png"
set datafile separator ","
set key left top
set xlabel "distinct compositions in one translation unit"
set ylabel "compile time (s)"
set y2label "peak compiler memory (MB)"
set y2tics
set ytics nomirror
set title "tapsec: compile-time cost of Secure<H, R, T> compositions"
plot "$csv" every ::1 using 1:2 with linespoints title "compile time (s)", \
     "$csv" every ::1 using 1:3 axes x1y2 with linespoints title "peak memory (MB)"
PLOT
fi
cat "$out/instantiation.md"
