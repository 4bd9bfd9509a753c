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
