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
  # Libreswan's libraries: pluto runs unpacked (libreswan conflicts with strongSwan in apt)
  libnss3-tools libcurl3-nss libevent-core-2.1-7 libevent-pthreads-2.1-7 libldns3 libunbound8 libcap-ng0
  tcpdump
  # key-log decryption checks (tests/interop/keylog_tshark_test.cpp)
  tshark
  # fuzzing (libFuzzer ships with clang 14) and the benchmark plot
  clang-14 libclang-rt-14-dev gnuplot-nox time iperf3
  # the plain-TCP ceiling of benchmarks/tls13_bulk.sh
  socat
  # the generated zsh completion is parsed and run (tests/unit/cli_test.cpp)
  zsh
  # the TLS termination anchor of benchmarks/load_tls13.sh
  nginx-light
)

# Libreswan, the second IKEv2 peer (tests/interop/ikev2_libreswan_test.cpp): the package
# unpacked, not installed, into /opt/libreswan (apt refuses it beside strongSwan).
# Idempotent; a failed download leaves the test skipping with a message.
libreswan_dir=/opt/libreswan
if [ ! -x "$libreswan_dir/usr/libexec/ipsec/pluto" ]; then
  download=$(mktemp -d)
  unpack_as=""
  [ "$(id -u)" -eq 0 ] || unpack_as="sudo"
  if (cd "$download" && apt-get download -q libreswan >/dev/null 2>&1); then
    $unpack_as mkdir -p "$libreswan_dir"
    $unpack_as dpkg -x "$download"/libreswan_*.deb "$libreswan_dir"
    echo "install-deps: Libreswan unpacked into $libreswan_dir"
  else
    echo "install-deps: could not download libreswan (apt-get download); its interop test will skip"
  fi
  rm -rf "$download"
fi

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
