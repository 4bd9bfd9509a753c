# Shell helpers shared by the end-to-end benchmark scripts (sourced, not run).
# Each script sets `server_pid` to the server it starts; `bench_name` names the script
# in messages.

# A loopback port nobody holds now: bench_free_port tcp|udp.
bench_free_port() {
  local kind=SOCK_STREAM
  [ "$1" = udp ] && kind=SOCK_DGRAM
  python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$kind); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"
}

# Waits, at most 10 s, until something holds loopback port $2 (tcp: listens; udp: is
# bound), failing early if $server_pid exits: bench_wait_port tcp|udp PORT.
bench_wait_port() {
  local flags=-Hltn what="listens on TCP"
  [ "$1" = udp ] && flags=-Hlun what="is bound to UDP"
  local deadline=$((SECONDS + 10))
  until ss "$flags" "sport = :$2" | grep -q .; do
    [ $SECONDS -lt $deadline ] || { echo "$bench_name: nothing $what port $2" >&2; return 1; }
    kill -0 "$server_pid" 2>/dev/null || { echo "$bench_name: the server exited early" >&2; return 1; }
    sleep 0.02
  done
}

# A self-signed ECDSA P-256 certificate for localhost: DIR/cert.pem and DIR/key.pem.
bench_self_signed() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/key.pem" \
    -out "$1/cert.pem" -days 2 -subj /CN=localhost 2>/dev/null
}

# The load scripts' summary of their load_client lines (handshakes=... rate=... p50_ms=...
# p99_ms=... failures=...): median (min-max) of the rate | median p50 | median p99 |
# failures; with `of-total` as $2, the failures as "F of N" attempts.
bench_load_summary() {
  python3 - "$1" "${2:-}" <<'PY'
import sys, statistics
rows = [dict(f.split("=") for f in line.split()) for line in open(sys.argv[1]) if line.startswith("handshakes=")]
rate = [float(r["rate"]) for r in rows]
p50 = [float(r["p50_ms"]) for r in rows]
p99 = [float(r["p99_ms"]) for r in rows]
fail = sum(int(r["failures"]) for r in rows)
failures = f"{fail} of {sum(int(r['handshakes']) for r in rows) + fail}" if sys.argv[2] == "of-total" else f"{fail}"
print(f"{statistics.median(rate):.0f} ({min(rate):.0f}–{max(rate):.0f}) | {statistics.median(p50):.1f} | {statistics.median(p99):.1f} | {failures}")
PY
}
