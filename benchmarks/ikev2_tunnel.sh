#!/usr/bin/env bash
# TCP throughput through an IKEv2/ESP tunnel (issue 11's benchmark): SIZE bytes (default
# 64 MiB) by socat through the tunnel's inner addresses, each way, for three pairings
# of peers in the same two network namespaces (outer 10.99.0.1 / 10.99.0.2 on a veth pair,
# inner 10.200.1.1 / 10.200.2.1), ESP AES-GCM-16-128 in UDP 4500, IKE x25519:
#   tapsec-tapsec   tapsec connect --tun  ->  tapsec listen --tun
#   tapsec-charon   tapsec connect --tun  ->  charon (kernel-libipsec: ESP in user space)
#   charon-charon   charon               ->  charon (both kernel-libipsec: the anchor)
# and, with --unbatched, the same tapsec pairings with TAPSEC_IKEV2_BATCH=0 (the data
# path of before: one TUN packet per poll, one sendto per datagram), as
# tapsec-tapsec-1x1 and tapsec-charon-1x1.
# "up" is initiator side -> responder side, "down" the reverse. The kernel here has no
# ESP, so kernel-libipsec is the only charon data path. The pairings run in interleaved
# rounds (the order rotating) so that a change in the machine's load hits all alike;
# each ratio (versus charon-charon) is taken within a round and reported as the median
# and range over the rounds.
#
# usage: sudo benchmarks/ikev2_tunnel.sh [--tapsec PATH] [--pairs N] [--size BYTES] [--out DIR] [--unbatched]
# Writes DIR/ikev2_tunnel_runs.csv (every transfer, Mbit/s) and prints the table. Needs
# root (namespaces), strongSwan (charon, swanctl), socat, python3.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tapsec=${TAPSEC:-$here/../build/tools/tapsec}
pairs=3
size=$((64 << 20))
out=$here/../docs/benchmarks
unbatched=0
while [ $# -gt 0 ]; do
  case $1 in
    --tapsec) tapsec=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --unbatched) unbatched=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "ikev2_tunnel.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in socat swanctl python3 ss "$tapsec" /usr/lib/ipsec/charon; do
  command -v "$tool" >/dev/null || [ -x "$tool" ] || { echo "ikev2_tunnel.sh: $tool not found" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "ikev2_tunnel.sh: needs root (network namespaces, TUN)" >&2; exit 2; }
mkdir -p "$out"
work=$(mktemp -d)
a=itb-a-$$ b=itb-b-$$  # a: the responder side, b: the initiator side
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$a"
ip netns add "$b"
ip netns exec "$a" ip link set lo up
ip netns exec "$b" ip link set lo up
ip link add itba netns "$a" type veth peer name itbb netns "$b"
ip netns exec "$a" ip addr add 10.99.0.1/24 dev itba
ip netns exec "$b" ip addr add 10.99.0.2/24 dev itbb
ip netns exec "$a" ip link set itba up
ip netns exec "$b" ip link set itbb up
head -c "$size" /dev/urandom > "$work/data.bin"
psk=tapsec-benchmark-pre-shared-key-0123456789

# ---- the peers -------------------------------------------------------------------------

# tapsec's config: $1 side (a or b).
tapsec_conf() {
  local lts=10.200.1.1 rts=10.200.2.1 lid=b.test rid=a@test
  [ "$1" = b ] && { lts=10.200.2.1 rts=10.200.1.1 lid=a@test rid=b.test; }
  printf '%s\n' "local.id = $lid" "remote.id = $rid" "secret = $psk" "local_ts = $lts" "remote_ts = $rts" \
    "proposals = aes128gcm16-prfsha256-x25519" "esp_proposals = aes128gcm16" > "$work/tapsec-$1.conf"
}

# charon in namespace $1 (side a or b: $2) with its own /run, vici socket and log.
start_charon() {
  local ns=$1 side=$2 dir=$work/charon-$2 lts=10.200.1.1 rts=10.200.2.1 lid=b.test rid=a@test \
    local=10.99.0.1 remote=10.99.0.2
  [ "$side" = b ] && { lts=10.200.2.1 rts=10.200.1.1 lid=a@test rid=b.test local=10.99.0.2 remote=10.99.0.1; }
  rm -rf "$dir" && mkdir -p "$dir"
  ip netns exec "$ns" ip addr add "$lts/32" dev lo  # charon's inner address (its local selector)
  cat > "$dir/strongswan.conf" <<EOF
charon {
  load_modular = yes
  install_routes = yes
  filelog {
    stderr {
      default = 0
    }
  }
  plugins {
    include /etc/strongswan.d/charon/*.conf
    kernel-libipsec {
      load = yes
    }
    vici {
      socket = unix://$dir/charon.vici
    }
  }
}
EOF
  cat > "$dir/swanctl.conf" <<EOF
connections {
  bench {
    version = 2
    local_addrs = $local
    remote_addrs = $remote
    encap = yes
    proposals = aes128gcm16-prfsha256-x25519
    local {
      auth = psk
      id = $lid
    }
    remote {
      auth = psk
      id = $rid
    }
    children {
      net {
        local_ts = $lts/32
        remote_ts = $rts/32
        esp_proposals = aes128gcm16
        mode = tunnel
      }
    }
  }
}
secrets {
  ike-1 {
    id-a = a@test
    id-b = b.test
    secret = "$psk"
  }
}
EOF
  ip netns exec "$ns" sh -c "mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=$dir/strongswan.conf exec /usr/lib/ipsec/charon" \
    > "$dir/charon.log" 2>&1 &
  pids+=($!)
  eval "charon_pid_$side=$!"
  local deadline=$((SECONDS + 15))
  until [ -S "$dir/charon.vici" ]; do
    [ $SECONDS -lt $deadline ] || { echo "ikev2_tunnel.sh: charon ($side) did not start" >&2; cat "$dir/charon.log" >&2; exit 1; }
    sleep 0.05
  done
  ip netns exec "$ns" swanctl --load-all --file "$dir/swanctl.conf" --uri "unix://$dir/charon.vici" > /dev/null 2>&1
}

stop_charon() {  # $1 namespace, $2 side
  local pid_var=charon_pid_$2 lts=10.200.1.1
  [ "$2" = b ] && lts=10.200.2.1
  kill "${!pid_var}" 2>/dev/null || true
  wait "${!pid_var}" 2>/dev/null || true
  ip netns exec "$1" ip addr del "$lts/32" dev lo 2>/dev/null || true
}

start_tapsec() {  # $1 namespace, $2 side; b connects, a listens; $3 1: batched (default), 0: not
  tapsec_conf "$2"
  local mode=listen target=10.99.0.1:4500
  [ "$2" = b ] && mode=connect
  ip netns exec "$1" env TAPSEC_IKEV2_BATCH="${3:-1}" "$tapsec" "$mode" ikev2 "$target" --config "$work/tapsec-$2.conf" --tun itb0 --verbose \
    > "$work/tapsec-$2.log" 2>&1 < /dev/null &
  pids+=($!)
  eval "tapsec_pid_$2=$!"
}

stop_tapsec() {  # $1 side
  local pid_var=tapsec_pid_$1
  kill "${!pid_var}" 2>/dev/null || true
  wait "${!pid_var}" 2>/dev/null || true
}

wait_for_text() {  # $1 file, $2 text: bounded (20 s)
  local deadline=$((SECONDS + 20))
  until grep -q "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "ikev2_tunnel.sh: no '$2' in $1" >&2; cat "$1" >&2; exit 1; }
    sleep 0.05
  done
}

wait_bound() {  # $1 namespace, $2 address:port, $3 tcp (a listener) or udp: bounded (10 s)
  local deadline=$((SECONDS + 10)) flags=-Hltn
  [ "$3" = udp ] && flags=-Hlun
  until ip netns exec "$1" ss $flags | grep -q "$2 "; do
    [ $SECONDS -lt $deadline ] || { echo "ikev2_tunnel.sh: nothing bound to $3 $2" >&2; exit 1; }
    sleep 0.02
  done
}

# SIZE bytes from namespace $1 (inner $2) to namespace $3 (inner $4): prints Mbit/s.
transfer() {
  rm -f "$work/received.bin"
  ip netns exec "$3" socat -u "TCP-LISTEN:5201,bind=$4,reuseaddr" "CREATE:$work/received.bin" &
  local receiver=$!
  pids+=($receiver)
  wait_bound "$3" "$4:5201" tcp
  local start end
  start=$(date +%s.%N)
  ip netns exec "$1" socat -u "OPEN:$work/data.bin" "TCP:$4:5201,bind=$2"
  wait "$receiver"
  end=$(date +%s.%N)
  cmp -s "$work/data.bin" "$work/received.bin" || { echo "ikev2_tunnel.sh: the received bytes differ" >&2; exit 1; }
  python3 -c "print(f'{$size * 8 / ($end - $start) / 1e6:.1f}')"
}

# One pairing: bring the tunnel up, transfer each way, tear it down. Appends to the CSV.
run_pairing() {  # $1 pairing, $2 round
  case $1 in
    tapsec-tapsec) start_tapsec "$a" a; wait_bound "$a" 10.99.0.1:4500 udp; start_tapsec "$b" b ;;
    tapsec-charon) start_charon "$a" a; start_tapsec "$b" b ;;
    tapsec-tapsec-1x1) start_tapsec "$a" a 0; wait_bound "$a" 10.99.0.1:4500 udp; start_tapsec "$b" b 0 ;;
    tapsec-charon-1x1) start_charon "$a" a; start_tapsec "$b" b 0 ;;
    charon-charon)
      start_charon "$a" a; start_charon "$b" b
      ip netns exec "$b" swanctl --initiate --child net --timeout 20 --uri "unix://$work/charon-b/charon.vici" > /dev/null ;;
  esac
  case $1 in tapsec-*) wait_for_text "$work/tapsec-b.log" "IKE SA and Child SA established" ;; esac
  local up down
  up=$(transfer "$b" 10.200.2.1 "$a" 10.200.1.1)
  down=$(transfer "$a" 10.200.1.1 "$b" 10.200.2.1)
  echo "$2,$1,up,$up" >> "$runs"
  echo "$2,$1,down,$down" >> "$runs"
  printf '  round %d %-14s up %8s Mbit/s  down %8s Mbit/s\n' "$2" "$1" "$up" "$down"
  case $1 in
    tapsec-tapsec*) stop_tapsec b; stop_tapsec a ;;
    tapsec-charon*) stop_tapsec b; stop_charon "$a" a ;;
    charon-charon) stop_charon "$b" b; stop_charon "$a" a ;;
  esac
}

runs=$out/ikev2_tunnel_runs.csv
echo "round,pairing,direction,mbit_per_s" > "$runs"
pairings=(tapsec-tapsec tapsec-charon charon-charon)
[ "$unbatched" = 1 ] && pairings+=(tapsec-tapsec-1x1 tapsec-charon-1x1)
echo "ikev2_tunnel.sh: $pairs rounds, $size bytes each way, $(nproc) cores (shared with whatever else runs)"
for ((round = 1; round <= pairs; ++round)); do
  for ((i = 0; i < ${#pairings[@]}; ++i)); do
    run_pairing "${pairings[$(((i + round - 1) % ${#pairings[@]}))]}" "$round"
  done
done

python3 - "$runs" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
value = {(r['round'], r['pairing'], r['direction']): float(r['mbit_per_s']) for r in rows}
rounds = sorted({r['round'] for r in rows})
print(f"{'pairing':15} {'dir':5} {'median Mbit/s':>14} {'range':>17} {'ratio vs charon-charon (median, range)':>40}")
for pairing in ('tapsec-tapsec', 'tapsec-charon', 'charon-charon', 'tapsec-tapsec-1x1', 'tapsec-charon-1x1'):
    if not any(r['pairing'] == pairing for r in rows):
        continue
    for direction in ('up', 'down'):
        v = [value[(k, pairing, direction)] for k in rounds]
        ratios = [value[(k, pairing, direction)] / value[(k, 'charon-charon', direction)] for k in rounds]
        print(f"{pairing:18} {direction:5} {statistics.median(v):14.1f} {min(v):8.1f}-{max(v):8.1f} "
              f"{statistics.median(ratios):22.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
EOF
