#!/usr/bin/env bash
# WireGuard tunnel throughput (issue 15 item 2): iperf3 TCP through TUN devices between two
# network namespaces joined by a veth pair, for three pairings:
#   tapsec      tapsec connect --tun  <->  tapsec listen --tun
#   wg-go       wireguard-go          <->  wireguard-go        (Debian's, the anchor)
#   tapsec>wg-go  tapsec connect --tun (sending)  ->  wireguard-go (receiving)  [mixed]
#   tapsec-plain  the tapsec pair with the TUN and UDP offloads off (TAPSEC_WG_TUN_OFFLOAD=0,
#                 TAPSEC_WG_UDP_OFFLOAD=0: batching only), to show what the offloads add
#                 (not run unless named with --only)
# The pairings run interleaved (order alternating) PAIRS times, so a change in the
# machine's load hits all alike; each ratio is taken within one round and reported as
# the median and range over the rounds.
#
# usage: benchmarks/wireguard_tunnel.sh [--tapsec PATH] [--pairs N] [--seconds S]
#          [--provider NAME] [--out DIR] [--only tapsec|wg-go|mixed]... [--profile DIR]
#   --profile DIR  also record `perf record -a -g` for 3 s in the middle of each pairing's
#                  first run (DIR/PAIRING.perf.data) and print its top symbols
# Writes DIR/wireguard_tunnel_runs.csv (every run), DIR/wireguard_tunnel.csv (the ratios) and
# DIR/wireguard_tunnel_rates.csv (Gbit/s per pairing: median, min, max).
# Needs root, iproute2, iperf3, wireguard-go and wg (wireguard-tools).
set -euo pipefail
umask 077  # the keys and configurations in the work directory

here=$(cd "$(dirname "$0")" && pwd)
tapsec=${TAPSEC:-$here/../build/tools/tapsec}
pairs=3
seconds=5
provider=openssl
out=$here/../docs/benchmarks
only=()
profile=""
while [ $# -gt 0 ]; do
  case $1 in
    --tapsec) tapsec=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --provider) provider=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only+=("$2"); shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "wireguard_tunnel.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#only[@]} -gt 0 ] || only=(tapsec wg-go mixed)
for tool in ip iperf3 wireguard-go wg python3 "$tapsec"; do
  command -v "$tool" >/dev/null || { echo "wireguard_tunnel.sh: $tool not found" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "wireguard_tunnel.sh: needs root (namespaces, TUN)" >&2; exit 2; }
mkdir -p "$out"
work=$(mktemp -d)
ns1=wgb1-$$ ns2=wgb2-$$
pids=()
stop_peers() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_peers
  ip netns del "$ns1" 2>/dev/null || true
  ip netns del "$ns2" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns1"
ip netns add "$ns2"
ip link add veth-b1 netns "$ns1" type veth peer name veth-b2 netns "$ns2"
ip -n "$ns1" addr add 192.168.241.1/24 dev veth-b1
ip -n "$ns2" addr add 192.168.241.2/24 dev veth-b2
for ns in "$ns1" "$ns2"; do ip -n "$ns" link set lo up; done
ip -n "$ns1" link set veth-b1 up
ip -n "$ns2" link set veth-b2 up

wg genkey >"$work/a.key"; wg pubkey <"$work/a.key" >"$work/a.pub"
wg genkey >"$work/b.key"; wg pubkey <"$work/b.key" >"$work/b.pub"
write_config() {  # file, own key, own address, peer public key, peer address, [endpoint]
  {
    printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = %s/24\nMTU = 1420\n\n' "$(cat "$2")" "$3"
    printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s/32\n' "$(cat "$4")" "$5"
    [ -z "${6:-}" ] || printf 'Endpoint = %s\n' "$6"
  } >"$1"
}
write_config "$work/a.conf" "$work/a.key" 10.77.0.1 "$work/b.pub" 10.77.0.2 192.168.241.2:51820
write_config "$work/b.conf" "$work/b.key" 10.77.0.2 "$work/a.pub" 10.77.0.1

# Waits (bounded, 10 s) until a line matching $2 appears in file $1.
wait_for_line() {
  local deadline=$((SECONDS + 10))
  until grep -q "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "wireguard_tunnel.sh: no '$2' in $1:" >&2; cat "$1" >&2; return 1; }
    sleep 0.05
  done
}
# Waits (bounded, 10 s) until interface $2 exists in namespace $1.
wait_for_link() {
  local deadline=$((SECONDS + 10))
  until ip -n "$1" link show "$2" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "wireguard_tunnel.sh: no $2 in $1" >&2; return 1; }
    sleep 0.05
  done
}
tapsec_side() {  # namespace, connect|listen, config
  ip netns exec "$1" env ${plain:+TAPSEC_WG_TUN_OFFLOAD=0 TAPSEC_WG_UDP_OFFLOAD=0} "$tapsec" "$2" wireguard --config "$3" --tun wgt0 --provider "$provider" --verbose \
    >"$work/$2.log" 2>&1 &
  pids+=($!)
}
wg_go_side() {  # namespace, name, own key, peer pub, address, peer address, [endpoint]
  ip netns exec "$1" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$2" >"$work/$2.log" 2>&1 &
  pids+=($!)
  wait_for_link "$1" "$2"
  local deadline=$((SECONDS + 10))
  until [ -S "/var/run/wireguard/$2.sock" ]; do
    [ $SECONDS -lt $deadline ] || { echo "wireguard_tunnel.sh: wireguard-go $2 has no socket" >&2; return 1; }
    sleep 0.05
  done
  ip netns exec "$1" wg set "$2" private-key "$3" listen-port 51820 peer "$(cat "$4")" allowed-ips "$6/32" \
    ${7:+endpoint $7}
  ip -n "$1" addr add "$5/24" dev "$2"
  ip -n "$1" link set "$2" mtu 1420 up
}
# iperf3 from ns1 to 10.77.0.2 in ns2 for $seconds; prints Gbit/s received.
measure() {
  ip netns exec "$ns2" iperf3 -s -1 -B 10.77.0.2 >/dev/null 2>&1 &
  local server=$!
  local deadline=$((SECONDS + 10))
  until ip netns exec "$ns2" ss -Hltn 'sport = :5201' | grep -q .; do
    [ $SECONDS -lt $deadline ] || { echo "wireguard_tunnel.sh: iperf3 -s did not start" >&2; return 1; }
    sleep 0.05
  done
  local recorder=""
  if [ -n "$profile" ] && [ ! -e "$profile/$1.perf.data" ]; then
    mkdir -p "$profile"
    (sleep 1.5; perf record -a -g -o "$profile/$1.perf.data" -- sleep 3 >/dev/null 2>&1) &
    recorder=$!
  fi
  ip netns exec "$ns1" timeout $((seconds + 20)) iperf3 -c 10.77.0.2 -t "$seconds" -O 1 -J >"$work/iperf.json" || true
  if [ -n "$recorder" ]; then
    wait "$recorder" || true
    perf report -i "$profile/$1.perf.data" --no-children --sort comm,sym --percent-limit 1.5 --stdio 2>/dev/null \
      | grep -v '^#' | grep '%' | head -25 >"$profile/$1.top.txt" || true
  fi
  wait "$server" 2>/dev/null || true
  python3 - "$work/iperf.json" <<'PY'
import json, sys
try:
    end = json.load(open(sys.argv[1]))["end"]
    print("%.3f,%d" % (end["sum_received"]["bits_per_second"] / 1e9, end["sum_sent"].get("retransmits", 0)))
except Exception:
    print("0,0")
PY
}
run_pairing() {
  plain=""
  case $1 in
    tapsec|tapsec-plain)
      [ "$1" = tapsec ] || plain=1
      tapsec_side "$ns2" listen "$work/b.conf"
      wait_for_line "$work/listen.log" "listening on"
      tapsec_side "$ns1" connect "$work/a.conf"
      wait_for_line "$work/connect.log" "handshake complete" ;;
    wg-go)
      wg_go_side "$ns2" wgg2 "$work/b.key" "$work/a.pub" 10.77.0.2 10.77.0.1
      wg_go_side "$ns1" wgg1 "$work/a.key" "$work/b.pub" 10.77.0.1 10.77.0.2 192.168.241.2:51820 ;;
    mixed)
      wg_go_side "$ns2" wgg2 "$work/b.key" "$work/a.pub" 10.77.0.2 10.77.0.1
      tapsec_side "$ns1" connect "$work/a.conf"
      wait_for_line "$work/connect.log" "handshake complete" ;;
  esac
  measure "$1"
  stop_peers
}

runs=$out/wireguard_tunnel_runs.csv
echo "round,pairing,gbit_per_s,tcp_retransmits" >"$runs"
for round in $(seq 1 "$pairs"); do
  order=("${only[@]}")
  if [ $((round % 2)) -eq 0 ]; then  # alternate the order between rounds
    reversed=(); for ((i = ${#order[@]} - 1; i >= 0; i--)); do reversed+=("${order[i]}"); done; order=("${reversed[@]}")
  fi
  for pairing in "${order[@]}"; do
    result=$(run_pairing "$pairing")
    echo "$round,$pairing,$result" >>"$runs"
    printf 'round %d  %-12s %6s Gbit/s  (%s TCP retransmits)\n' "$round" "$pairing" "${result%,*}" "${result#*,}"
  done
done

python3 - "$runs" "$out/wireguard_tunnel.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
by = {}
for r in rows:
    by.setdefault(r["round"], {})[r["pairing"]] = float(r["gbit_per_s"])
def summary(name, values):
    return [name, "%.3f" % statistics.median(values), "%.3f" % min(values), "%.3f" % max(values), len(values)]
rates, table = [], []
for p in ("tapsec", "tapsec-plain", "wg-go", "mixed"):
    v = [x[p] for x in by.values() if p in x]
    if v: rates.append(summary(p + " Gbit/s", v))
for num, den, label in (("tapsec", "wg-go", "tapsec / wg-go pair"), ("mixed", "wg-go", "tapsec>wg-go / wg-go pair"),
                        ("tapsec", "tapsec-plain", "offloads on / off (tapsec)")):
    v = [x[num] / x[den] for x in by.values() if num in x and den in x and x[den] > 0]
    if v: table.append(summary(label, v))
for path, rows in ((sys.argv[2], table), (sys.argv[2].replace(".csv", "_rates.csv"), rates)):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["measurement", "median", "min", "max", "rounds"])
        w.writerows(rows)
print("%-28s %8s %8s %8s" % ("measurement", "median", "min", "max"))
for t in rates + table:
    print("%-28s %8s %8s %8s" % tuple(t[:4]))
PY
