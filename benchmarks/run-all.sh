#!/usr/bin/env bash
# Runs the end-to-end benchmarks and (if built) tapsec_bench, writes docs/benchmarks/*.csv
# and a bar chart per ratio table (gnuplot: bars from zero, the 1.0 line marked, the
# range over the interleaved pairs as error bars), and docs/benchmarks/machine.txt (the
# machine, the library versions, the date, the load) for docs/performance.md to cite.
#
# usage: benchmarks/run-all.sh [--tapsec PATH] [--bench PATH] [--pairs N] [--size BYTES] [--plot-only]
#   --tapsec PATH  the tapsec command (default build/tools/tapsec)
#   --bench PATH   tapsec_bench; when given (or found in build/benchmarks), its ratio suites
#                  run too and go to docs/benchmarks/tapsec_bench.csv; the ratios it measures
#                  in interleaved pairs (tls13-handshake, srtp) get a chart each,
#                  tapsec_bench_<suite>.csv/.png
#   --plot-only    redo the ratio table and chart from the last run's tls13_bulk_runs.csv
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$here/..
out=$root/docs/benchmarks
tapsec=$root/build/tools/tapsec
bench=$root/build/benchmarks/tapsec_bench
pass=()
plot_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --tapsec) tapsec=$2; shift 2 ;;
    --bench) bench=$2; shift 2 ;;
    --pairs|--size) pass+=("$1" "$2"); shift 2 ;;
    --plot-only) plot_only=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "run-all.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"

if [ $plot_only -eq 1 ]; then
  "$here/tls13_bulk.sh" --tapsec "$tapsec" --out "$out" --summary-only
else
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "kernel: $(uname -r)"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$tapsec" --version | sed -n '2,4p'
  echo "openssl command: $(openssl version)"
  echo "socat: $(socat -V 2>/dev/null | grep -m1 'socat version' | sed 's/^ *//')"
} >"$out/machine.txt"

"$here/tls13_bulk.sh" --tapsec "$tapsec" --out "$out" "${pass[@]}"

# The WireGuard tunnel (root, wireguard-go and iperf3 needed; skipped otherwise).
if [ "$(id -u)" = 0 ] && command -v wireguard-go >/dev/null && command -v iperf3 >/dev/null; then
  wg_pairs=()
  for ((i = 0; i < ${#pass[@]}; i += 2)); do [ "${pass[i]}" = --pairs ] && wg_pairs=(--pairs "${pass[i + 1]}"); done
  "$here/wireguard_tunnel.sh" --tapsec "$tapsec" --out "$out" "${wg_pairs[@]}" || echo "run-all.sh: wireguard_tunnel.sh failed" >&2
fi

if [ -x "$bench" ]; then
  "$bench" --csv "$out/tapsec_bench.csv" providers tls13-handshake tls13_record srtp
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
fi

# One bar chart per ratio table: measurement,median,min,max,...
plot() {
  local csv=$1 png=$2 title=$3
  gnuplot <<PLOT
set terminal pngcairo size 1100,640 font ",10"
set output "$png"
set datafile separator ","
set title "$title" noenhanced
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
set ylabel "ratio (median; bars: range over the pairs)"
set xtics rotate by -30 left noenhanced
set key off
set grid ytics
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2 lc rgb "red" front
set label "1.0" at graph 1.005, first 1 tc rgb "red"
set rmargin 14
set bmargin 12
set lmargin 10
plot "$csv" using 2:3:4:xtic(1) every ::1 lc rgb "#4477aa"
PLOT
}
plot "$out/tls13_bulk.csv" "$out/tls13_bulk.png" \
  "TLS 1.3, 1 GiB over loopback (ossl: OpenSSL provider): ratios within interleaved pairs ($(sed -n 's/^date: //p' "$out/machine.txt"))"
if [ -f "$out/wireguard_tunnel.csv" ]; then
  plot "$out/wireguard_tunnel.csv" "$out/wireguard_tunnel.png" \
    "WireGuard, iperf3 TCP through TUN between namespaces: ratios within interleaved rounds ($(sed -n 's/^date: //p' "$out/machine.txt"))"
fi
# tapsec_bench's ratios measured in interleaved pairs (unit "x", note "median of N
# interleaved pairs, range LOW-HIGH"), one chart per suite.
if [ -f "$out/tapsec_bench.csv" ]; then
  for suite in tls13-handshake srtp; do
    awk -F, -v suite="$suite" 'BEGIN { print "measurement,median,min,max" }
      $1 == suite && $4 == "x" && match($0, /range [0-9.]+-[0-9.]+/) {
        split(substr($0, RSTART + 6, RLENGTH - 6), r, "-"); name = $2
        gsub(/tapsec \(OpenSSL provider\)/, "ossl", name); gsub(/tapsec \(Botan provider\)/, "botan", name)
        gsub(/OpenSSL-crypto-only/, "EVP floor", name); gsub(/SRTP_|AEAD_|full handshakes, /, "", name)
        print name "," $3 "," r[1] "," r[2] }' \
      "$out/tapsec_bench.csv" >"$out/tapsec_bench_$suite.csv"
    [ "$(wc -l <"$out/tapsec_bench_$suite.csv")" -gt 1 ] &&
      plot "$out/tapsec_bench_$suite.csv" "$out/tapsec_bench_$suite.png" \
        "tapsec_bench $suite: ratios within interleaved pairs ($(sed -n 's/^date: //p' "$out/machine.txt"))"
  done
fi
echo "run-all.sh: wrote $out/tls13_bulk.csv, tls13_bulk_runs.csv, tls13_bulk.png, machine.txt" >&2
