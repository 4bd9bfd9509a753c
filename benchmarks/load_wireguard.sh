#!/usr/bin/env bash
# WireGuard load figures (issue 14, serving at scale), loopback only, bounded in count
# and time: PEERS (1000) initiators against one `tapsec listen wireguard` with PEERS
# [Peer] sections, three times:
#   --cookie-rate 1000000  never under load: no cookies;
#   --cookie-rate 2000     the default: cookie replies once over 2,000 handshake messages/s;
#   --cookie-rate 0        always under load: every handshake needs a cookie (mac2) first.
# Each run: first contact (all peers at once, 10 datagrams each, every one reflected
# back through the tunnel and counted), then SECONDS (10) of sustained re-handshakes
# (handshakes/s, p50/p99 latency, the listener's CPU time). The generator is ours
# (benchmarks/wireguard_load.cpp, built here with g++) and shares the cores with the
# listener.
#   benchmarks/load_wireguard.sh BUILD_DIR [PEERS] [SECONDS]
# Prints a Markdown table for docs/performance.md; raw lines go to $OUT (default
# /tmp/tapsec-wg-load).
set -euo pipefail
build=${1:?usage: load_wireguard.sh BUILD_DIR [PEERS] [SECONDS]}
peers=${2:-1000}
seconds=${3:-10}
src=$(cd "$(dirname "$0")/.." && pwd)
tapsec=$(cd "$build" && pwd)/tools/tapsec
out=${OUT:-/tmp/tapsec-wg-load}
[ -x "$tapsec" ] || { echo "load_wireguard: no $tapsec (build tapsec_cli first)" >&2; exit 2; }
(( peers >= 1 && peers <= 20000 && seconds >= 1 && seconds <= 120 )) ||
    { echo "load_wireguard: PEERS 1..20000, SECONDS 1..120" >&2; exit 2; }
# One socket per peer in the generator.
want_files=$((peers + 256))
if (( $(ulimit -Hn) < want_files )); then ulimit -Hn "$want_files" 2>/dev/null || true; fi
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) >= want_files )) || { echo "load_wireguard: $peers peers need $want_files descriptors, the limit is $(ulimit -n)" >&2; exit 2; }
mkdir -p "$out"
load="$out/tapsec_wg_load"
g++ -std=c++20 -O2 -Wall -Wextra -Werror -I"$src/include" -I"$src/tests" $(pkg-config --cflags botan-2 openssl) \
    "$src/benchmarks/wireguard_load.cpp" -o "$load" $(pkg-config --libs botan-2 openssl) -pthread

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
echo "| --cookie-rate | first contact: all in | s | handshakes/s | p50 ms | p99 ms | cookie replies | datagrams back | sustained handshakes/s | p50 ms | p99 ms | listener handshakes per CPU-s |"
echo "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
status=0
for rate in 1000000 2000 0; do
    line=$(timeout $((seconds + 120)) "$load" "$tapsec" "$peers" "$seconds" "$rate") || status=1
    echo "$line" >> "$out/raw.txt"
    echo "| $rate | $(field first_all_in "$line") | $(field first_seconds "$line") | $(field first_rate "$line") |" \
         "$(field first_p50_ms "$line") | $(field first_p99_ms "$line") | $(field first_cookie_replies "$line") |" \
         "$(field returned "$line") of $(field datagrams "$line") | $(field sustained_rate "$line") |" \
         "$(field sustained_p50_ms "$line") | $(field sustained_p99_ms "$line") | $(field handshakes_per_cpu_s "$line") |"
done
exit $status
