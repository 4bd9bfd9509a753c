#!/usr/bin/env bash
# QUIC bulk transfer over loopback (issue 10): one SIZE-byte file (default 10 MiB) fetched
# over HTTP/3, the same cipher suite everywhere (default TLS_AES_128_GCM_SHA256):
#   ngtcp2         gtlsclient          <- gtlsserver           (ngtcp2's own pair: the anchor)
#   tapsec-recv    tapsec connect --h3 <- gtlsserver           (our receiving side)
#   tapsec-pair    tapsec connect --h3 <- tapsec listen --h3   (our sending side too)
# The variants run in interleaved rounds (the order alternating) so that a change in the
# machine's load hits all of them alike; each ratio is taken within a round and reported
# as the median and range over the rounds. The time is the client's wall time (start to
# exit, the file complete and its SHA-256 checked).
#
# usage: benchmarks/quic_bulk.sh [--tapsec PATH] [--rounds N] [--size BYTES] [--suite NAME]
#                                [--provider openssl|botan] [--out DIR]
# Writes DIR/quic_bulk_runs.csv (every transfer) and prints the ratios. Needs gtlsserver,
# gtlsclient (ngtcp2-server, ngtcp2-client), openssl. Runs only on 127.0.0.1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tapsec=${TAPSEC:-$here/../build/tools/tapsec}
rounds=5
size=$((10 << 20))
suite=TLS_AES_128_GCM_SHA256
provider=openssl
out=$here/../docs/benchmarks
while [ $# -gt 0 ]; do
  case $1 in
    --tapsec) tapsec=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --suite) suite=$2; shift 2 ;;
    --provider) provider=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "quic_bulk.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
gtlsserver=/usr/sbin/gtlsserver
for tool in openssl gtlsclient "$gtlsserver" "$tapsec"; do
  command -v "$tool" >/dev/null || { echo "quic_bulk.sh: $tool not found" >&2; exit 2; }
done
case $suite in
  TLS_AES_128_GCM_SHA256) gnutls_cipher=AES-128-GCM ;;
  TLS_AES_256_GCM_SHA384) gnutls_cipher=AES-256-GCM ;;
  TLS_CHACHA20_POLY1305_SHA256) gnutls_cipher=CHACHA20-POLY1305 ;;
  *) echo "quic_bulk.sh: unknown suite $suite" >&2; exit 2 ;;
esac
gnutls_priority="NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+$gnutls_cipher"
mkdir -p "$out"
# shellcheck source=benchmarks/lib.sh
source "$here/lib.sh"
bench_name=quic_bulk.sh
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

bench_self_signed "$work"
mkdir -p "$work/htdocs"
head -c "$size" /dev/urandom >"$work/htdocs/big.bin"
want=$(sha256sum <"$work/htdocs/big.bin" | cut -d' ' -f1)

# One transfer: prints the client's wall seconds.
transfer() {
  local variant=$1 port server client
  port=$(bench_free_port udp)
  trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null' EXIT
  rm -rf "$work/dl" "$work/out.bin"
  mkdir -p "$work/dl"
  case $variant in
    ngtcp2|tapsec-recv)
      server=("$gtlsserver" -q -d "$work/htdocs" --ciphers "$gnutls_priority" 127.0.0.1 "$port" "$work/key.pem" "$work/cert.pem") ;;
    tapsec-pair)
      server=("$tapsec" listen quic "127.0.0.1:$port" --h3 --htdocs "$work/htdocs" --cert "$work/cert.pem"
              --key "$work/key.pem" --ciphersuites "$suite" --provider "$provider" --quiet) ;;
  esac
  case $variant in
    ngtcp2)
      client=(gtlsclient -q --exit-on-all-streams-close --download "$work/dl" --ciphers "$gnutls_priority"
              127.0.0.1 "$port" "https://127.0.0.1:$port/big.bin") ;;
    tapsec-recv|tapsec-pair)
      client=("$tapsec" connect quic "127.0.0.1:$port" --h3 --path /big.bin --output "$work/out.bin"
              --CAfile "$work/cert.pem" --servername localhost --ciphersuites "$suite" --provider "$provider" --quiet) ;;
  esac
  "${server[@]}" >/dev/null 2>"$work/server.err" &
  server_pid=$!
  bench_wait_port udp "$port"
  local start end status=0
  start=$(date +%s.%N)
  timeout 60 "${client[@]}" >/dev/null 2>"$work/client.err" || status=$?
  end=$(date +%s.%N)
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  [ $status -eq 0 ] || { echo "quic_bulk.sh: $variant client exited $status: $(head -c 300 "$work/client.err")" >&2; exit 1; }
  local got
  if [ "$variant" = ngtcp2 ]; then got=$(sha256sum <"$work/dl/big.bin" | cut -d' ' -f1)
  else got=$(sha256sum <"$work/out.bin" | cut -d' ' -f1); fi
  [ "$got" = "$want" ] || { echo "quic_bulk.sh: $variant: SHA-256 differs" >&2; exit 1; }
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f\n", b - a }'
}

runs=$out/quic_bulk_runs.csv
echo "suite,round,variant,seconds,mib_per_s" >"$runs"
for round in $(seq 1 "$rounds"); do
  order=(ngtcp2 tapsec-recv tapsec-pair)
  [ $((round % 2)) -eq 0 ] && order=(tapsec-pair tapsec-recv ngtcp2)
  for variant in "${order[@]}"; do
    seconds=$(transfer "$variant")
    rate=$(awk -v n="$size" -v s="$seconds" 'BEGIN { printf "%.3f\n", n / 1048576 / s }')
    printf '%s,%d,%s,%.4f,%.1f\n' "$suite" "$round" "$variant" "$seconds" "$rate" >>"$runs"
    printf 'round %d  %-12s %7.3f s  %7.1f MiB/s\n' "$round" "$variant" "$seconds" "$rate" >&2
  done
done

python3 - "$runs" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
secs = {(r["round"], r["variant"]): float(r["seconds"]) for r in rows}
rounds = sorted({r["round"] for r in rows}, key=int)
print(f"suite {rows[0]['suite']}, {len(rounds)} rounds; ratio = anchor time / variant time (>1: faster)")
print("| measurement | median | range | seconds (median) |\n|---|---:|---|---:|")
for variant, anchor, label in [("tapsec-recv", "ngtcp2", "tapsec <- gtlsserver vs ngtcp2 pair"),
                               ("tapsec-pair", "ngtcp2", "tapsec pair vs ngtcp2 pair"),
                               ("ngtcp2", "ngtcp2", "ngtcp2 pair")]:
    ratios = [secs[(r, anchor)] / secs[(r, variant)] for r in rounds]
    s = statistics.median(secs[(r, variant)] for r in rounds)
    print(f"| {label} | {statistics.median(ratios):.2f} | {min(ratios):.2f}-{max(ratios):.2f} | {s:.3f} |")
EOF
