#!/usr/bin/env bash
# TLS 1.3 load figures (issue 14 item 4), loopback only, bounded in count and time:
#   1. full handshakes per second with CLIENTS (64) concurrent clients against
#      `tapsec listen tls13 --www --forever` (OpenSSL provider, one thread per core) and
#      against nginx (worker_processes = cores, TLS 1.3 only), the same certificate, for a
#      P-256 and an Ed25519 certificate; PAIRS (5) interleaved pairs of SECONDS (5) s runs
#      (the order alternates), median and range, p50/p99 handshake latency;
#   2. memory per idle TLS 1.3 connection with IDLE (10000) connections held open, tapsec
#      next to nginx (VmRSS of all the server's processes before and after).
# ONLY=handshakes or ONLY=idle runs one of the two.
# The load generator is ours (benchmarks/load_client.cpp, built here with g++); it shares
# the cores with the server, as for both servers alike.
#   benchmarks/load_tls13.sh BUILD_DIR [PAIRS] [SECONDS] [IDLE]
# Prints a Markdown table for docs/performance.md; the raw lines go to $OUT (default
# /tmp/tapsec-load).
set -euo pipefail
# shellcheck source=benchmarks/lib.sh
source "$(dirname "$0")/lib.sh"
build=${1:?usage: load_tls13.sh BUILD_DIR [PAIRS] [SECONDS] [IDLE]}
pairs=${2:-5}
seconds=${3:-5}
idle=${4:-10000}
only=${ONLY:-}
clients=64
src=$(cd "$(dirname "$0")/.." && pwd)
tapsec=$(cd "$build" && pwd)/tools/tapsec
out=${OUT:-/tmp/tapsec-load}
cores=$(nproc)
command -v nginx >/dev/null || { echo "load_tls13: nginx is not installed (scripts/install-deps.sh: nginx-light)" >&2; exit 2; }
[ -x "$tapsec" ] || { echo "load_tls13: no $tapsec (build tapsec_cli first)" >&2; exit 2; }
(( pairs >= 1 && pairs <= 50 && idle >= 1 && idle <= 10000 )) || { echo "load_tls13: PAIRS 1..50, IDLE 1..10000" >&2; exit 2; }
# IDLE connections are IDLE descriptors in the load generator and IDLE in the server:
# raise the hard limit where we may (root), then the soft one to it.
want_files=$((idle + 1024))
if (( $(ulimit -Hn) < want_files )); then ulimit -Hn "$want_files" 2>/dev/null || true; fi
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) >= want_files )) || { echo "load_tls13: $idle idle connections need $want_files descriptors, the limit is $(ulimit -n)" >&2; exit 2; }
mkdir -p "$out"
chmod 755 "$out"
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

load="$out/tapsec_load"
g++ -std=c++20 -O2 -Wall -Wextra -Werror -I"$src/include" $(pkg-config --cflags botan-2 openssl) \
    "$src/benchmarks/load_client.cpp" -o "$load" $(pkg-config --libs botan-2 openssl) -pthread

# A CA and a "localhost" leaf per key type (world-readable: nginx's workers run as nobody).
make_pki() {
    local kind=$1 dir="$out/pki-$1" alg
    mkdir -p "$dir"
    if [ "$kind" = p256 ]; then alg=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256); else alg=(-algorithm ED25519); fi
    openssl genpkey "${alg[@]}" -out "$dir/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$dir/ca.key" -subj "/CN=load CA" -days 2 -out "$dir/ca.crt" 2>/dev/null
    openssl genpkey "${alg[@]}" -out "$dir/leaf.key" 2>/dev/null
    openssl req -new -key "$dir/leaf.key" -subj "/CN=localhost" -out "$dir/leaf.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost\n' > "$dir/ext"
    openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
        -extfile "$dir/ext" -out "$dir/leaf.crt" 2>/dev/null
    chmod -R a+rX "$dir"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# VmRSS (KiB) summed over a process and its children (nginx: master and workers).
rss_tree() {
    local total=0 p
    for p in $1 $(pgrep -P "$1" || true); do
        total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

server_pid=
start_server() {  # start_server tapsec|nginx KIND PORT
    local which=$1 kind=$2 port=$3 dir="$out/pki-$2"
    if [ "$which" = tapsec ]; then
        "$tapsec" listen tls13 "127.0.0.1:$port" --cert "$dir/leaf.crt" --key "$dir/leaf.key" --www --forever \
            --quiet --provider openssl --threads "$cores" --max-conns 20000 --max-pending 4096 \
            2>"$out/tapsec-server.log" &
    else
        local n="$out/nginx-$port"
        mkdir -p "$n/html"
        echo ok > "$n/html/index.html"
        chmod -R a+rX "$n"
        cat > "$n/nginx.conf" <<CONF
worker_processes $cores;
worker_rlimit_nofile $((idle + 1024));
pid nginx.pid;
lock_file nginx.lock;
events { worker_connections 20000; }
http {
    access_log off;
    client_body_temp_path $n/body;
    proxy_temp_path $n/proxy;
    fastcgi_temp_path $n/fastcgi;
    uwsgi_temp_path $n/uwsgi;
    scgi_temp_path $n/scgi;
    server {
        listen 127.0.0.1:$port ssl;
        ssl_protocols TLSv1.3;
        ssl_certificate $dir/leaf.crt;
        ssl_certificate_key $dir/leaf.key;
        ssl_session_tickets off;
        keepalive_timeout 600s;
        root html;
    }
}
CONF
        nginx -p "$n/" -c nginx.conf -e error.log -g 'daemon off;' &
    fi
    server_pid=$!
    pids+=("$server_pid")
    wait_port "$port" || { echo "load_tls13: $which did not listen on $port" >&2; exit 1; }
}
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }

measure_handshakes() {  # prints the load line
    local which=$1 kind=$2 port
    port=$(free_port)
    start_server "$which" "$kind" "$port"
    "$load" handshakes "$port" "$out/pki-$kind/ca.crt" "$clients" "$seconds"
    stop_server
}

measure_idle() {  # prints "KIB_PER_CONNECTION HELD"
    local which=$1 kind=$2 port before after held
    port=$(free_port)
    start_server "$which" "$kind" "$port"
    "$load" handshakes "$port" "$out/pki-$kind/ca.crt" 1 0.2 >/dev/null  # warm up
    before=$(rss_tree "$server_pid")
    coproc HOLD { "$load" idle "$port" "$out/pki-$kind/ca.crt" "$idle"; }
    read -r line <&"${HOLD[0]}"
    held=$(echo "$line" | awk '{print $2}')
    after=$(rss_tree "$server_pid")
    exec {hold_in}>&"${HOLD[1]}"
    exec {hold_in}>&-
    kill "$HOLD_PID" 2>/dev/null || true
    wait "$HOLD_PID" 2>/dev/null || true
    stop_server
    awk -v a="$after" -v b="$before" -v n="$held" 'BEGIN { printf "%.1f %d %d %d\n", (a - b) / n, n, b, a }'
}

summary() { bench_load_summary "$1"; }

echo "load_tls13: $cores cores, $clients clients, $pairs pairs of ${seconds} s, $idle idle connections; raw lines in $out" >&2
results=()
kinds=(p256 ed25519)
[ "$only" = idle ] && kinds=()
for kind in "${kinds[@]}"; do
    make_pki "$kind"
    : > "$out/$kind-tapsec.txt"
    : > "$out/$kind-nginx.txt"
    for i in $(seq "$pairs"); do
        if (( i % 2 )); then order=(tapsec nginx); else order=(nginx tapsec); fi
        for which in "${order[@]}"; do
            line=$(measure_handshakes "$which" "$kind")
            echo "$kind $which pair $i: $line" >&2
            echo "$line" >> "$out/$kind-$which.txt"
        done
    done
    for which in tapsec nginx; do
        results+=("| $kind | $which | $(summary "$out/$kind-$which.txt") |")
    done
done
if [ "$only" != idle ]; then
    echo "| certificate | server | handshakes/s median (range) | p50 ms | p99 ms | failures |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${results[@]}"
    echo
fi
[ "$only" = handshakes ] && exit 0
make_pki p256
echo "| server | idle connections | KiB per connection | VmRSS before → after (KiB) |"
echo "|---|---|---|---|"
for which in tapsec nginx; do
    read -r per held before after < <(measure_idle "$which" p256)
    echo "| $which | $held | $per | $before → $after |"
done
