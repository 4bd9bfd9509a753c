#!/usr/bin/env bash
# End-to-end TLS 1.3 bulk throughput over loopback (issue 15 item 2): SIZE bytes (default
# 1 GiB) from a client's stdin to a server's stdout (/dev/null), for each cipher suite:
#   tapsec-openssl  tapsec connect -> tapsec listen, both --provider openssl
#   tapsec-botan    the same with --provider botan
#   openssl         openssl s_client -> openssl s_server (the anchor)
#   tcp             socat -> socat, no encryption (the ceiling), once per pair
# The variants run in interleaved pairs (the order alternating between pairs) so that a
# change in the machine's load hits all of them alike; each ratio is taken within a pair
# and reported as the median and range over the pairs.
#
# usage: benchmarks/tls13_bulk.sh [--tapsec PATH] [--pairs N] [--size BYTES] [--out DIR] [--summary-only]
# Writes DIR/tls13_bulk_runs.csv (every transfer) and DIR/tls13_bulk.csv (the ratios);
# prints a table (--summary-only: recomputes both from an existing runs file). Needs
# openssl and socat. Runs only on 127.0.0.1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tapsec=${TAPSEC:-$here/../build/tools/tapsec}
pairs=5
size=$((1 << 30))
out=$here/../docs/benchmarks
suites=(TLS_AES_128_GCM_SHA256 TLS_CHACHA20_POLY1305_SHA256)
summary_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --tapsec) tapsec=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --summary-only) summary_only=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "tls13_bulk.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in openssl socat ss "$tapsec"; do
  command -v "$tool" >/dev/null || { echo "tls13_bulk.sh: $tool not found" >&2; exit 2; }
done
mkdir -p "$out"
# shellcheck source=benchmarks/lib.sh
source "$here/lib.sh"
bench_name=tls13_bulk.sh
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

bench_self_signed "$work"

# One transfer: prints the seconds from the client's start to both ends' exit.
transfer() {
  local variant=$1 suite=$2 port
  port=$(bench_free_port tcp)
  local server client
  # This runs in a command substitution's subshell: stop its server if it fails midway.
  trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null' EXIT
  case $variant in
    tapsec-openssl|tapsec-botan)
      local provider=${variant#tapsec-}
      server=("$tapsec" listen tls13 "127.0.0.1:$port" --cert "$work/cert.pem" --key "$work/key.pem"
              --ciphersuites "$suite" --groups X25519 --provider "$provider" --quiet)
      client=("$tapsec" connect tls13 "127.0.0.1:$port" --CAfile "$work/cert.pem" --servername localhost
              --ciphersuites "$suite" --groups X25519 --provider "$provider" --quiet) ;;
    openssl)
      # s_server closes at its own stdin's EOF (docs: PEERS.md): its stdin stays open (a
      # FIFO nobody writes) until the client's close ends the one connection (-naccept 1).
      server=(openssl s_server -accept "127.0.0.1:$port" -cert "$work/cert.pem" -key "$work/key.pem"
              -tls1_3 -ciphersuites "$suite" -groups X25519 -naccept 1 -quiet)
      client=(openssl s_client -connect "127.0.0.1:$port" -CAfile "$work/cert.pem" -servername localhost
              -tls1_3 -ciphersuites "$suite" -groups X25519 -quiet -no_ign_eof) ;;
    tcp)
      server=(socat -u -b 131072 "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" STDOUT)
      client=(socat -u -b 131072 STDIN "TCP:127.0.0.1:$port") ;;
  esac
  rm -f "$work/hold"
  mkfifo "$work/hold"
  "${server[@]}" <"$work/hold" >/dev/null 2>"$work/server.err" &
  server_pid=$!
  exec {hold_fd}<>"$work/hold"  # opened read-write: the server's stdin neither ends nor blocks its open
  bench_wait_port tcp "$port"
  local start end status=0
  start=$(date +%s.%N)
  head -c "$size" /dev/zero | "${client[@]}" >/dev/null 2>"$work/client.err" || status=$?
  [ $status -eq 0 ] || { echo "tls13_bulk.sh: $variant client exited $status: $(head -c 300 "$work/client.err")" >&2; exit 1; }
  wait "$server_pid" || status=$?
  end=$(date +%s.%N)
  server_pid=""
  exec {hold_fd}>&-
  [ $status -eq 0 ] || { echo "tls13_bulk.sh: $variant server exited $status: $(head -c 300 "$work/server.err")" >&2; exit 1; }
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f\n", b - a }'
}

runs=$out/tls13_bulk_runs.csv
[ $summary_only -eq 1 ] || echo "suite,pair,variant,seconds,mib_per_s" >"$runs"
[ $summary_only -eq 1 ] || for suite in "${suites[@]}"; do
  for pair in $(seq 1 "$pairs"); do
    order=(openssl tapsec-openssl tapsec-botan tcp)
    [ $((pair % 2)) -eq 0 ] && order=(tcp tapsec-botan tapsec-openssl openssl)
    for variant in "${order[@]}"; do
      seconds=$(transfer "$variant" "$suite")
      rate=$(awk -v n="$size" -v s="$seconds" 'BEGIN { printf "%.3f\n", n / 1048576 / s }')
      printf '%s,%d,%s,%.4f,%.1f\n' "$suite" "$pair" "$variant" "$seconds" "$rate" >>"$runs"
      printf '%-30s pair %d  %-15s %8.1f MiB/s\n' "$suite" "$pair" "$variant" "$rate" >&2
    done
  done
done

# Ratios within each pair; median and range over the pairs.
python3 - "$runs" "$out/tls13_bulk.csv" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rate = {(r["suite"], r["pair"], r["variant"]): float(r["mib_per_s"]) for r in rows}
suites = sorted({r["suite"] for r in rows}, key=lambda s: [r["suite"] for r in rows].index(s))
pairs = sorted({r["pair"] for r in rows}, key=int)
out = csv.writer(open(sys.argv[2], "w", newline=""), lineterminator="\n")
out.writerow(["measurement", "median", "min", "max", "pairs", "median_mib_per_s"])
print("| suite | measurement | median | range | MiB/s (median) |\n|---|---|---:|---|---:|")
for suite in suites:
    short = {"TLS_AES_128_GCM_SHA256": "AES-128-GCM", "TLS_CHACHA20_POLY1305_SHA256": "ChaCha20"}.get(suite, suite)
    for variant, anchor, label in [("tapsec-openssl", "openssl", "tapsec-ossl / openssl"),
                                   ("tapsec-botan", "openssl", "tapsec-botan / openssl"),
                                   ("openssl", "tcp", "openssl / TCP"),
                                   ("tapsec-openssl", "tcp", "tapsec-ossl / TCP")]:
        ratios = [rate[(suite, p, variant)] / rate[(suite, p, anchor)] for p in pairs]
        median_rate = statistics.median(rate[(suite, p, variant)] for p in pairs)
        name = f"{short}: {label}"
        out.writerow([name, f"{statistics.median(ratios):.3f}", f"{min(ratios):.3f}", f"{max(ratios):.3f}",
                      len(ratios), f"{median_rate:.1f}"])
        print(f"| {short} | {label} | {statistics.median(ratios):.2f} | {min(ratios):.2f}-{max(ratios):.2f} | {median_rate:.0f} |")
tcp = statistics.median(rate[(s, p, "tcp")] for s in suites for p in pairs)
print(f"\nplain TCP (socat) ceiling: {tcp:.0f} MiB/s (median)")
EOF
