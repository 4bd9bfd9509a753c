#!/usr/bin/env bash
# Compile cost of real compositions (issue 8, item 9): a small program per protocol
# that constructs a real Secure<H, R, T>, runs handshake/send/receive/close (so every
# engine member it drives is instantiated), compiled with `-std=c++20 -O2 -c` in the
# header-only mode and, where the library ships it, in the separately compiled mode
# (TAPSEC_SEPARATE_COMPILATION, engines from tapsec::compiled). Reports the compiler's
# user CPU time (steadier than wall time on a shared machine; best of 2) and peak
# resident memory, and writes docs/benchmarks/compile-cost.md.
# Usage: compositions.sh [compiler]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cxx="${1:-g++}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags="-std=c++20 -O2 -c -I$root/include $(pkg-config --cflags botan-2)"

program() {  # header, composition type, transport maker
  cat <<CPP
#include <$1>
template <class S>
int drive(typename S::transport_type transport) {
    typename S::Config config;
    S connection(tapsec::Role::client, config, std::move(transport));
    if (connection.handshake()) return 1;
    if (connection.send(tapsec::as_bytes("x"))) return 1;
    auto message = connection.receive_message();
    if (connection.close()) return 1;
    return message ? 0 : 1;
}
$3
CPP
}
tcp_main() { echo "tapsec::Tcp transport(); int main() { return drive<$1>(transport()); }"; }
udp_main() { echo "tapsec::Udp transport(); int main() { return drive<$1>(transport()); }"; }

tls13='tapsec::Secure<tapsec::Tls13Handshake, tapsec::AeadRecord, tapsec::Tcp>'
tls12='tapsec::Secure<tapsec::Tls12Handshake, tapsec::Tls12Record, tapsec::Tcp>'
dtls12='tapsec::Secure<tapsec::Dtls12Handshake, tapsec::DtlsRecord, tapsec::Udp>'
dtls_srtp='tapsec::Secure<tapsec::DtlsSrtpHandshake, tapsec::SrtpRecord, tapsec::Udp>'
wireguard='tapsec::Secure<tapsec::WireGuardHandshake, tapsec::WireGuardRecord, tapsec::Udp>'

echo '#include <tapsec/tapsec.hpp>' > "$work/include_all.cpp"
program tapsec/tapsec.hpp "$tls13" "$(tcp_main "$tls13")" > "$work/tls13_all.cpp"
program tapsec/tls13.hpp "$tls13" "$(tcp_main "$tls13")" > "$work/tls13.cpp"
program tapsec/tls12.hpp "$tls12" "$(tcp_main "$tls12")" > "$work/tls12.cpp"
program tapsec/dtls12.hpp "$dtls12" "$(udp_main "$dtls12")" > "$work/dtls12.cpp"
program tapsec/dtls_srtp.hpp "$dtls_srtp" "$(udp_main "$dtls_srtp")" > "$work/dtls_srtp.cpp"
program tapsec/wireguard.hpp "$wireguard" "$(udp_main "$wireguard")" > "$work/wireguard.cpp"
{
  program tapsec/tapsec.hpp "$tls13" ""
  echo "tapsec::Tcp tcp(); tapsec::Udp udp();"
  echo "int main() { return drive<$tls13>(tcp()) + drive<$tls12>(tcp()) + drive<$dtls12>(udp()) +"
  echo "                    drive<$dtls_srtp>(udp()) + drive<$wireguard>(udp()); }"
} > "$work/all_five.cpp"

measure() {  # name, source, extra flags -> "user_s peak_mb"
  local best="" peak=0
  for run in 1 2; do
    /usr/bin/time -f "%U %M" -o "$work/time" $cxx $flags $3 "$work/$2" -o "$work/out.o"
    read -r secs kb < "$work/time"
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; fi
    (( kb > peak )) && peak=$kb
  done
  echo "| $1 | $best | $((peak / 1024)) |"
  echo "$1: ${best} s, $((peak / 1024)) MB" >&2
}

rows=$(
  measure '`#include <tapsec/tapsec.hpp>` only' include_all.cpp ""
  measure 'TLS 1.3 client, `<tapsec/tapsec.hpp>`, header-only' tls13_all.cpp ""
  measure 'TLS 1.3 client, `<tapsec/tls13.hpp>`, header-only' tls13.cpp ""
  measure 'TLS 1.3 client, `<tapsec/tls13.hpp>`, **compiled mode**' tls13.cpp "-DTAPSEC_SEPARATE_COMPILATION"
  measure 'TLS 1.2 client, `<tapsec/tls12.hpp>`, header-only' tls12.cpp ""
  measure 'DTLS 1.2 client, `<tapsec/dtls12.hpp>`, header-only' dtls12.cpp ""
  measure 'DTLS-SRTP client, `<tapsec/dtls_srtp.hpp>`, header-only' dtls_srtp.cpp ""
  measure 'WireGuard peer, `<tapsec/wireguard.hpp>`, header-only' wireguard.cpp ""
  measure 'all five compositions in one TU, `<tapsec/tapsec.hpp>`' all_five.cpp ""
)
out="$root/docs/benchmarks/compile-cost.md"
{
  echo "# Compile cost of real compositions"
  echo
  echo "Measured $(date -u +%Y-%m-%d) with \`$($cxx --version | head -1)\`, \`-std=c++20 -O2 -c\`, one"
  echo "translation unit per row: a program that constructs the composition and runs handshake,"
  echo "send, receive and close (every engine member it drives is instantiated). Time is the"
  echo "compiler's user CPU time, best of 2 (steadier than wall time on a shared machine); memory"
  echo "is the compiler's peak resident set. The compiled mode defines"
  echo "\`TAPSEC_SEPARATE_COMPILATION\` (linking \`tapsec::compiled\` does) and takes the engine"
  echo "from the library (core/compiled_engine.hpp). Regenerate with"
  echo "\`bash benchmarks/instantiation/compositions.sh\`."
  echo
  echo "| program | compile CPU time (s) | peak memory (MB) |"
  echo "|---|---:|---:|"
  echo "$rows"
} > "$out"
cat "$out"
