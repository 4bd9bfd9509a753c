#!/usr/bin/env bash
# DTLS 1.2 handshakes per second against the datagram server (issue 14 item 3), loopback
# only, bounded in count and time: CLIENTS (64) concurrent clients (benchmarks/load_client.cpp,
# `dtls12-handshakes`: each a fresh UDP port, full handshake with the cookie round trip,
# close_notify) against `tapsec listen dtls12 --echo --forever --threads T` for each T in
# THREADS ("1 2"), ROUNDS (5) interleaved rounds of SECONDS (5) s (the order alternates),
# median and range, p50/p99 latency. The generator shares the cores with the server.
#   benchmarks/load_dtls.sh BUILD_DIR [ROUNDS] [SECONDS]
# Prints a Markdown table for docs/async.md; the raw lines go to $OUT (default /tmp/tapsec-load-dtls).
set -euo pipefail
# shellcheck source=benchmarks/lib.sh
source "$(dirname "$0")/lib.sh"
build=${1:?usage: load_dtls.sh BUILD_DIR [ROUNDS] [SECONDS]}
rounds=${2:-5}
seconds=${3:-5}
clients=${CLIENTS:-64}
threads_list=(${THREADS:-1 2})
src=$(cd "$(dirname "$0")/.." && pwd)
tapsec=$(cd "$build" && pwd)/tools/tapsec
out=${OUT:-/tmp/tapsec-load-dtls}
[ -x "$tapsec" ] || { echo "load_dtls: no $tapsec (build tapsec_cli first)" >&2; exit 2; }
(( rounds >= 1 && rounds <= 50 )) || { echo "load_dtls: ROUNDS 1..50" >&2; exit 2; }
mkdir -p "$out"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null || true; }
trap cleanup EXIT

load="$out/tapsec_load"
[ "$src/benchmarks/load_client.cpp" -nt "$load" ] &&
    g++ -std=c++20 -O2 -Wall -Wextra -Werror -I"$src/include" $(pkg-config --cflags botan-2 openssl) \
        "$src/benchmarks/load_client.cpp" -o "$load" $(pkg-config --libs botan-2 openssl) -pthread

pki="$out/pki"
mkdir -p "$pki"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/ca.key" 2>/dev/null
openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=load CA" -days 2 -out "$pki/ca.crt" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/leaf.key" 2>/dev/null
openssl req -new -key "$pki/leaf.key" -subj "/CN=localhost" -out "$pki/leaf.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' > "$pki/ext"
openssl x509 -req -in "$pki/leaf.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 2 \
    -extfile "$pki/ext" -out "$pki/leaf.crt" 2>/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

measure() {  # measure THREADS: one run, prints the generator's line
    local threads=$1 port line
    port=$(free_port)
    "$tapsec" listen dtls12 "127.0.0.1:$port" --cert "$pki/leaf.crt" --key "$pki/leaf.key" --echo --forever \
        --threads "$threads" --max-pending 4096 --quiet 2>"$out/server-$threads.log" &
    server=$!
    for _ in $(seq 100); do ss -Hlun "sport = :$port" | grep -q . && break; sleep 0.05; done
    line=$("$load" dtls12-handshakes "$port" "$pki/ca.crt" "$clients" "$seconds" 2>>"$out/load.log" || true)
    kill -TERM "$server"
    wait "$server" || echo "load_dtls: the server exited $? after SIGTERM" >&2
    server=""
    echo "$line"
}

summary() { bench_load_summary "$1" of-total; }

echo "load_dtls: $(nproc) cores, $clients clients, $rounds rounds of ${seconds} s, threads ${threads_list[*]}; load average $(cut -d' ' -f1-3 /proc/loadavg); raw lines in $out" >&2
for t in "${threads_list[@]}"; do : > "$out/threads-$t.txt"; done
for i in $(seq "$rounds"); do
    order=("${threads_list[@]}")
    (( i % 2 )) || order=($(printf '%s\n' "${threads_list[@]}" | tac))
    for t in "${order[@]}"; do
        line=$(measure "$t")
        echo "round $i, --threads $t: $line (load average $(cut -d' ' -f1 /proc/loadavg))" >&2
        echo "$line" >> "$out/threads-$t.txt"
    done
done
echo "| server | handshakes/s median (range) | p50 ms | p99 ms | failures |"
echo "|---|---|---|---|---|"
for t in "${threads_list[@]}"; do echo "| --threads $t | $(summary "$out/threads-$t.txt") |"; done
echo "load_dtls: load average at the end $(cut -d' ' -f1-3 /proc/loadavg)" >&2
