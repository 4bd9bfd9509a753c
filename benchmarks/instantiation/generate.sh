#!/usr/bin/env bash
# Writes a translation unit that instantiates N distinct compositions: distinct
# Secure<H_i, R_i, T> types, each with its feature set computed, its dependency
# concepts checked (Composable) and a feature queried in static_assert / if constexpr.
# Policy i declares a different Hana set of features, so no two types coincide.
set -euo pipefail
n="$1"
cat <<'HEAD'
#include <tapsec/core/secure.hpp>
#include <tapsec/transport/memory.hpp>
#include <tapsec/transport/tcp.hpp>
#include <tapsec/transport/udp.hpp>

#include "support/declared_engine.hpp"

namespace gen {
using namespace tapsec;
using Engine = tapsec::test::DeclaredOnlyEngine;
template <int I> struct Keys {};
using F = tapsec::features<feature::AN, feature::MA, feature::SC, feature::ED, feature::AFN, feature::CX>;
template <int I, class Provides, class Needs>
struct Handshake {
    static constexpr std::string_view name = "generated";
    using provides = Provides;
    using needs = Needs;
    static constexpr KeyExport key_export = KeyExport::direct;
    using exported_keys = Keys<I>;
    using Config = CommonConfig;
    template <class R, class C> using engine = Engine;
};
template <int I, class Provides>
struct Record {
    static constexpr std::string_view name = "generated";
    using provides = Provides;
    static constexpr KeyImport key_import = KeyImport::direct;
    using imported_keys = Keys<I>;
};
using stream = dependencies<dependency::reliable_byte_stream>;
using datagram = dependencies<dependency::datagram>;
}  // namespace gen

int use(int x);
int main() {
    int sum = 0;
HEAD
features=(AN AD MA DM CM SV AFN CX SC LHP ED)
for ((i = 0; i < n; i++)); do
  # a distinct subset of features per composition: bits of i select them
  list="tapsec::feature::record_protection"
  for ((b = 0; b < 11; b++)); do
    if (( (i >> (b % 7)) & 1 )) && (( b < 7 || i % 3 == b % 3 )); then list+=", tapsec::feature::${features[$b]}"; fi
  done
  if (( i % 2 )); then needs=datagram; transport=tapsec::Udp; else needs=stream; transport=tapsec::Tcp; fi
  cat <<BODY
    {
        using H = gen::Handshake<$i, tapsec::features<$list>, gen::$needs>;
        using R = gen::Record<$i, tapsec::features<tapsec::feature::replay_protection, tapsec::feature::LHP>>;
        using S = tapsec::Secure<H, R, $transport>;
        static_assert(tapsec::Composable<H, R, $transport>);
        static_assert(S::has<tapsec::feature::record_protection>);
        if constexpr (S::has<tapsec::feature::ED>) sum += use($i); else sum -= use($i);
        sum += static_cast<int>(sizeof(S) & 1);
    }
BODY
done
echo "    return sum;"
echo "}"
echo "int use(int x) { return x; }"
