#!/bin/bash
# Re-captures the key-schedule vectors of tests/vectors/ikev2_charon_capture_vectors.cpp
# from strongSwan's charon (Debian bookworm: strongswan-charon 5.9.8). Two charons, one
# per network namespace made here and joined by a veth pair, ESP in user space
# (kernel-libipsec; the kernel here has none), PSK. For each IKE proposal below the
# initiator's log at `ike 4`, `chd 4`, `enc 4`, `net 4` gives the DH shared secret, SKEYSEED,
# SK_d, SK_ai/ar, SK_ei/er, SK_pi/pr and the Child SA's ESP keys; the SPIs and the
# nonces are read from the raw IKE_SA_INIT request (as generated) and response (as
# received) the same log dumps. Prints one C++ initializer per proposal, in the form
# the .cpp's `captures` table takes (the values change with every run: fresh nonces
# and key shares).
#
# Usage (root; needs strongswan-charon strongswan-swanctl libcharon-extra-plugins):
#   bash tests/vectors/ikev2_charon_capture.sh [PROPOSAL ESP_PROPOSAL]...
# default: aes128gcm16-prfsha256-x25519 aes128gcm16  aes256-sha384-prfsha384-ecp256 aes256-sha256
#          aes256gcm16-prfsha512-modp2048 aes256gcm16
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "$0: needs root (network namespaces)" >&2; exit 2; }
[ -x /usr/lib/ipsec/charon ] || { echo "$0: /usr/lib/ipsec/charon missing (strongswan-charon)" >&2; exit 2; }
command -v swanctl > /dev/null || { echo "$0: swanctl missing (strongswan-swanctl)" >&2; exit 2; }

if [ $# -eq 0 ]; then
    set -- aes128gcm16-prfsha256-x25519 aes128gcm16 aes256-sha384-prfsha384-ecp256 aes256-sha256 \
           aes256gcm16-prfsha512-modp2048 aes256gcm16
fi
[ $(($# % 2)) = 0 ] || { echo "$0: give PROPOSAL ESP_PROPOSAL pairs" >&2; exit 2; }

DIR=$(mktemp -d /tmp/ikev2-capture.XXXXXX)
NS_I=tapsec-capi NS_R=tapsec-capr
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
    ip netns del $NS_I 2> /dev/null || true
    ip netns del $NS_R 2> /dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

ip netns add $NS_I
ip netns add $NS_R
ip link add vcapi netns $NS_I type veth peer name vcapr netns $NS_R
ip -n $NS_I addr add 10.98.0.1/24 dev vcapi
ip -n $NS_R addr add 10.98.0.2/24 dev vcapr
for ns in $NS_I $NS_R; do ip -n $ns link set lo up; done
ip -n $NS_I link set vcapi up
ip -n $NS_R link set vcapr up
ip -n $NS_I addr add 10.201.1.1/32 dev lo  # charon wants its local selector on an interface
ip -n $NS_R addr add 10.201.2.1/32 dev lo

strongswan_conf() {  # DIR
    cat << EOF
charon {
  load_modular = yes
  filelog {
    stderr {
      default = 1
      ike = 4
      chd = 4
      enc = 4
      net = 4
    }
  }
  plugins {
    include /etc/strongswan.d/charon/*.conf
    kernel-libipsec {
      load = yes
    }
    vici {
      socket = unix://$1/charon.vici
    }
  }
}
EOF
}

swanctl_conf() {  # LOCAL REMOTE LOCAL_TS REMOTE_TS LOCAL_ID REMOTE_ID PROPOSAL ESP_PROPOSAL
    cat << EOF
connections {
  c {
    version = 2
    local_addrs = $1
    remote_addrs = $2
    encap = yes
    proposals = $7
    local {
      auth = psk
      id = $5
    }
    remote {
      auth = psk
      id = $6
    }
    children {
      net {
        local_ts = $3
        remote_ts = $4
        esp_proposals = $8
        mode = tunnel
      }
    }
  }
}
secrets {
  ike-1 {
    id-a = a@capture.test
    id-b = b.capture.test
    secret = "tapsec-capture-pre-shared-key-0123456789"
  }
}
EOF
}

start_charon() {  # NS SIDE-DIR
    ip netns exec "$1" sh -c "mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=$2/strongswan.conf exec /usr/lib/ipsec/charon" \
        > "$2/charon.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do [ -S "$2/charon.vici" ] && return 0; sleep 0.1; done
    echo "$0: charon in $1 opened no vici socket" >&2
    cat "$2/charon.log" >&2
    exit 1
}

stop_charons() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
    PIDS=()
}

capture() {  # PROPOSAL ESP_PROPOSAL
    local run="$DIR/$1"
    mkdir -p "$run/i" "$run/r"
    strongswan_conf "$run/i" > "$run/i/strongswan.conf"
    strongswan_conf "$run/r" > "$run/r/strongswan.conf"
    swanctl_conf 10.98.0.1 10.98.0.2 10.201.1.1/32 10.201.2.1/32 a@capture.test b.capture.test "$1" "$2" > "$run/i/swanctl.conf"
    swanctl_conf 10.98.0.2 10.98.0.1 10.201.2.1/32 10.201.1.1/32 b.capture.test a@capture.test "$1" "$2" > "$run/r/swanctl.conf"
    start_charon $NS_I "$run/i"
    start_charon $NS_R "$run/r"
    ip netns exec $NS_I swanctl --load-all --file "$run/i/swanctl.conf" --uri "unix://$run/i/charon.vici" > "$run/i/load.log" 2>&1
    ip netns exec $NS_R swanctl --load-all --file "$run/r/swanctl.conf" --uri "unix://$run/r/charon.vici" > "$run/r/load.log" 2>&1
    if ! timeout 30 ip netns exec $NS_I swanctl --initiate --child net --uri "unix://$run/i/charon.vici" > "$run/initiate.log" 2>&1; then
        echo "$0: $1 / $2: the exchange failed" >&2
        cat "$run/initiate.log" >&2
        exit 1
    fi
    stop_charons
    python3 - "$1" "$2" "$run/i/charon.log" << 'EOF'
import re, sys

proposal, esp_proposal, path = sys.argv[1], sys.argv[2], sys.argv[3]
lines = open(path, encoding="utf-8", errors="replace").read().splitlines()

def dump(label, occurrence=0):
    """The octets of charon's hex dump 'LABEL => N bytes @ ...' (the occurrence-th one)."""
    seen = 0
    for at, line in enumerate(lines):
        m = re.search(re.escape(label) + r" => (\d+) bytes", line)
        if not m:
            continue
        if seen < occurrence:
            seen += 1
            continue
        size, out = int(m.group(1)), bytearray()
        for follow in lines[at + 1:]:
            d = re.match(r"^\S*\[\w+\]\s+\d+: ((?:[0-9A-F]{2} )+)", follow)
            if not d or len(out) >= size:
                break
            out += bytes.fromhex(d.group(1))
        return bytes(out[:size])
    return None

def nonce_of(message):
    """The Nonce payload (type 40) of an IKE message."""
    kind, at = message[16], 28
    while kind != 0 and at + 4 <= len(message):
        length = int.from_bytes(message[at + 2:at + 4], "big")
        if kind == 40:
            return message[at + 4:at + length]
        kind, at = message[at], at + length
    raise SystemExit(f"no nonce in {message.hex()}")

request = dump("generated data of this generator")   # our IKE_SA_INIT request, as sent
response = dump("received packet")                    # the responder's IKE_SA_INIT, as received
if request is None or response is None or request[18] != 34 or response[18] != 34:
    raise SystemExit("the log lacks the IKE_SA_INIT messages (net 4 / enc 4)")
values = {
    "spi_i": response[0:8], "spi_r": response[8:16],
    "ni": nonce_of(request), "nr": nonce_of(response),
    "g_ir": dump("shared Diffie Hellman secret"), "skeyseed": dump("SKEYSEED"),
    "sk_d": dump("Sk_d secret"), "sk_ai": dump("Sk_ai secret") or b"", "sk_ar": dump("Sk_ar secret") or b"",
    "sk_ei": dump("Sk_ei secret"), "sk_er": dump("Sk_er secret"),
    "sk_pi": dump("Sk_pi secret"), "sk_pr": dump("Sk_pr secret"),
    "esp_encr_i": dump("encryption initiator key"), "esp_encr_r": dump("encryption responder key"),
    "esp_integ_i": dump("integrity initiator key") or b"", "esp_integ_r": dump("integrity responder key") or b"",
}
missing = [k for k, v in values.items() if v is None]
if missing:
    raise SystemExit("not in the log: " + ", ".join(missing))
print(f'    {{"{proposal}", "{esp_proposal}",')
for k, v in values.items():
    print(f'     "{v.hex()}",  // {k}')
print("    },")
EOF
}

echo "// strongSwan $(dpkg-query -W -f '${Version}' strongswan-charon 2> /dev/null || echo '?') on $(. /etc/os-release; echo "$PRETTY_NAME"), captured $(date -u +%Y-%m-%d)"
while [ $# -gt 0 ]; do
    capture "$1" "$2"
    shift 2
done
