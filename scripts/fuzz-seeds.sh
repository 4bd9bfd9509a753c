#!/usr/bin/env bash
# Regenerates the small seed corpora under fuzz/corpus/ (checked in; a few KB each):
#  - the whole-engine targets: one file per configuration byte (each file is a real,
#    complete handshake in that configuration: the network is honest once the
#    instructions run out);
#  - the single-parser targets that take one datagram: the datagrams of real handshakes
#    and data exchanges, dumped by the engine targets (TAPSEC_FUZZ_DUMP_DIR, see
#    fuzz/engine_pair.hpp), with the control byte the target expects in front.
# Needs the targets built (scripts/fuzz.sh or a build-fuzz/ tree).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build-fuzz/fuzz
corpus=fuzz/corpus

modes() {  # target, then configuration bytes in hex
  local target=$1
  shift
  mkdir -p "$corpus/$target"
  for m in "$@"; do printf "\\x$m" >"$corpus/$target/mode-$m"; done
}
# PSK, certificates, HRR, no middlebox mode, client certificates, psk_ke, resumption +
# 0-RTT, ChaCha20, KeyUpdates, record_size_limit + padding, and a few together.
modes tls13_engine_fuzz 00 01 02 04 08 09 10 11 20 40 80 13 d3
modes tls12_engine_fuzz 00 01 02 04 08 0f
modes dtls12_engine_fuzz 00 01 02 04 08 0f
modes wireguard_engine_fuzz 00 01 02 04 07
modes ikev2_engine_fuzz 00 01 02 03 04 08 0f
modes quic_connection_fuzz 00 01 02 04 07 08 09 10 11 19  # 08: 0-RTT, 10: QUIC v2

# The credential readers: a real certificate, key, identity and ticket key, made here
# (a throwaway key: it protects nothing), each behind the reader-selector byte.
credentials() {
  local tmp dest="$corpus/credential_files_fuzz"
  tmp=$(mktemp -d)
  mkdir -p "$dest"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
    -out "$tmp/cert.pem" -days 30 -subj /CN=localhost >/dev/null 2>&1
  { printf '\x00'; cat "$tmp/cert.pem"; } >"$dest/certificate"
  { printf '\x01'; cat "$tmp/key.pem"; } >"$dest/private-key"
  { printf '\x05'; cat "$tmp/cert.pem"; printf '\x00'; cat "$tmp/key.pem"; } >"$dest/identity"
  { printf '\x04'; head -c 48 /dev/urandom; } >"$dest/ticket-key"
  rm -rf "$tmp"
}
credentials

dump() {  # engine target, mode byte, then: destination target, control byte (or "")
  local engine=$1 mode=$2 dest=$3 control=$4 tmp
  [ -x "$bin/$engine" ] || { echo "fuzz-seeds: $engine not built, skipped"; return; }
  tmp=$(mktemp -d)
  printf "\\x$mode" >"$tmp/input"
  mkdir -p "$tmp/units"
  TAPSEC_FUZZ_DUMP_DIR="$tmp/units" "$bin/$engine" "$tmp/input" >/dev/null 2>&1
  mkdir -p "$corpus/$dest"
  for u in "$tmp"/units/*; do
    [ -s "$u" ] || continue
    out="$corpus/$dest/$engine-$mode-$(basename "$u")"
    if [ -n "$control" ]; then { printf "\\x$control"; cat "$u"; } >"$out"; else cp "$u" "$out"; fi
  done
  rm -rf "$tmp"
}
dump dtls12_engine_fuzz 00 dtls_record_fuzz ""
dump quic_connection_fuzz 01 quic_header_fuzz ""
dump quic_connection_fuzz 09 quic_header_fuzz ""   # resumption: 0-RTT packets among the datagrams
dump quic_connection_fuzz 11 quic_header_fuzz ""   # QUIC v2 long headers
dump wireguard_engine_fuzz 00 wireguard_message_fuzz 01   # bit 0: the target fixes mac1 up
dump ikev2_engine_fuzz 00 ikev2_message_fuzz 00
# A handshake may repeat a unit (retransmission, the runner executing an input twice): keep one copy.
for d in "$corpus"/*/; do (cd "$d" && md5sum -- * | sort | awk 'seen[$1]++ { print $2 }' | xargs -r rm --); done
du -sb "$corpus"/* | sort -n
