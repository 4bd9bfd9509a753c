#!/usr/bin/env bash
# Installs everything tapsec needs on Debian bookworm, by package name: the build
# (compiler, CMake, Ninja), the libraries (Botan 2, Boost.Hana, doctest), and the
# real peers the interop tests talk to. Idempotent: installs only what is missing.
set -euo pipefail

packages=(
  # build
  g++ cmake ninja-build pkg-config make
  # libraries
  libbotan-2-dev libboost-dev doctest-dev
  # peers and peer libraries (linked by tests and benchmarks only)
  openssl libssl-dev gnutls-bin libsrtp2-dev wireguard-go wireguard-tools iproute2 iputils-ping python3
  # ZRTP peer library (tests/interop/zrtp_bzrtp_test.cpp)
  libbzrtp-dev libbctoolbox-dev libsqlite3-dev
  # CurveCP peer (curvecpserver/curvecpclient/curvecpmessage), QUIC peer (ngtcp2 over GnuTLS),
  # IKEv2 peer (strongSwan's charon with ESP in user space), packet captures (tcpcrypt's ENO)
  nacl-tools ngtcp2-client ngtcp2-server
  strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins
  libstrongswan-standard-plugins  # charon's gcm (AES-GCM) and openssl (ECP) plugins
  tcpdump
  # key-log decryption checks (tests/interop/keylog_tshark_test.cpp)
  tshark
  # fuzzing (libFuzzer ships with clang 14) and the benchmark plot
  clang-14 libclang-rt-14-dev gnuplot-nox time
  # the plain-TCP ceiling of benchmarks/tls13_bulk.sh
  socat
  # the generated zsh completion is parsed and run (tests/unit/cli_test.cpp)
  zsh
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
