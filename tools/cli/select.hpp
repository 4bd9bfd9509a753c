// `tapsec select --require MA --prefer CM ...`: the ranking of the shipped compositions
// under an application's stated properties (include/tapsec/taps/selection.hpp), with the
// reason for each exclusion; `tapsec connect auto HOST:PORT --require ...` races the
// candidates that fit (QUIC and TLS 1.3 over TCP) and then carries stdin/stdout over
// the winner, like `tapsec connect <winner>`.
#pragma once

#include <cctype>
#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include <tapsec/tapsec.hpp>
#include <tapsec/taps/race.hpp>
#include <tapsec/taps/selection.hpp>

#include "address.hpp"
#include "registry.hpp"
#include "stdio.hpp"

namespace tapsec::cli::selection {

/// Every composition `tapsec` ships, under its registry name: the compile-time candidate
/// list `tapsec select` ranks (the features come from these types, as in `tapsec table`).
using Shipped = taps::candidates<
    taps::candidate<"quic", Secure<Tls13Handshake, QuicPacketProtection, Udp>>,
    taps::candidate<"tls13", Secure<Tls13Handshake, AeadRecord, Tcp>>,
    taps::candidate<"tls12", Secure<Tls12Handshake, Tls12Record, Tcp>>,
    taps::candidate<"tcpcrypt", Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno>>,
    taps::candidate<"dtls12", Secure<Dtls12Handshake, DtlsRecord, Udp>>,
    taps::candidate<"dtls-srtp", Secure<DtlsSrtpHandshake, SrtpRecord, Udp>>,
    taps::candidate<"wireguard", Secure<WireGuardHandshake, WireGuardRecord, Udp>>,
    taps::candidate<"ikev2", Secure<Ikev2Handshake, EspRecord, Udp>>,
    taps::candidate<"zrtp", Secure<ZrtpHandshake, SrtpRecord, Udp>>,
    taps::candidate<"curvecp", Secure<CurveCpHandshake, CurveCpRecord, Udp>>,
    taps::candidate<"minimalt", Secure<MinimaltHandshake, MinimaltRecord, Udp>>>;

/// What `connect auto` can race: the compositions sharing one client config (tls13::Config),
/// in the order they start when equally ranked (QUIC first, as RFC 8305 prefers the newer).
using Raceable = taps::candidates<taps::candidate<"quic", Secure<Tls13Handshake, QuicPacketProtection, Udp>>,
                                  taps::candidate<"tls13", Secure<Tls13Handshake, AeadRecord, Tcp>>>;

inline constexpr const char* criteria_usage =
    "  --require LIST    properties every candidate must offer\n"
    "  --prefer LIST     properties that rank a candidate higher (more first)\n"
    "  --avoid LIST      properties that rank a candidate lower (a tie-breaker)\n"
    "  --prohibit LIST   properties no candidate may offer\n"
    "A LIST names properties by the survey's codes (',' or ':' between them):\n"
    "  AN AD MA DM CM SV AFN CX SC LHP ED (5.2), ENC FS PK UA PSK (5.1),\n"
    "  RES PRC ORI RP OOO RK (3), and the service: stream or datagram.\n"
    "Ranking (RFC 9622 6.2): require and prohibit exclude; then more preferred properties\n"
    "first, then fewer avoided; ties keep the listed order.\n";

inline const std::string select_usage =
    std::string("usage: tapsec select [--require LIST] [--prefer LIST] [--avoid LIST] [--prohibit LIST]\n"
                "  ranks the compositions tapsec ships by the stated properties and says why\n"
                "  each excluded one is out. Exit status 1 when none is left.\n\n") +
    criteria_usage;

inline const std::string auto_usage =
    std::string(
        "Races QUIC and TLS 1.3 over TCP (those of them the properties admit), in rank order,\n"
        "each started --stagger after the one before (RFC 8305); the first to finish its\n"
        "handshake carries stdin/stdout, the others are closed.\n\n"
        "options:\n") +
    criteria_usage +
    "  --stagger MS            delay between starts (default 250)\n"
    "  --handshake-timeout S   the whole race (default 10)\n"
    "  --CAfile FILE           trust anchors (PEM) for the server's certificate\n"
    "  --noverify              accept any server certificate (testing only)\n"
    "  --servername NAME       SNI and the name checked in the certificate (default: HOST)\n"
    "  --cert FILE --key FILE  our certificate and key, should the server ask (mutual authentication)\n"
    "  --alpn LIST             application protocols (default: tapsec, as `tapsec listen quic`)\n"
    "  --quiet                 no race summary on stderr\n";

inline std::string upper(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

/// The four lists of --require / --prefer / --avoid / --prohibit as masks.
inline taps::Criteria take_criteria(Arguments& args) {
    taps::Criteria criteria;
    const std::pair<const char*, taps::Level> levels[] = {{"--require", taps::Level::require},
                                                          {"--prefer", taps::Level::prefer},
                                                          {"--avoid", taps::Level::avoid},
                                                          {"--prohibit", taps::Level::prohibit}};
    for (const auto& [option, level] : levels) {
        auto list = args.take_list(option);
        if (!list) continue;
        for (const auto& code : *list) {
            const taps::PropertyName* found = nullptr;
            for (const auto& p : taps::property_names)
                if (upper(std::string(p.code)) == upper(code)) found = &p;
            if (!found)
                throw UsageError(std::string(option) + ": unknown property '" + code +
                                 "' (AN AD MA DM CM SV AFN CX SC LHP ED ENC FS PK UA PSK RES PRC ORI RP OOO RK stream datagram)");
            criteria.add(level, std::uint64_t{1} << found->bit);
        }
    }
    if (criteria.required & criteria.prohibited)
        throw UsageError("a property cannot be both required and prohibited: " +
                         std::string(taps::property_name(taps::lowest_bit(criteria.required & criteria.prohibited)).code));
    return criteria;
}

inline std::string codes_of(std::uint64_t mask) {
    std::string out;
    for (const auto& p : taps::property_names)
        if ((mask >> p.bit) & 1u) out += (out.empty() ? "" : " ") + std::string(p.code);
    return out.empty() ? "-" : out;
}

inline std::string exclusion_reason(const taps::Verdict& v) {
    const auto p = taps::property_name(v.property_bit);
    if (v.exclusion == taps::Exclusion::lacks_required)
        return "lacks required " + std::string(p.code) + " (" + std::string(p.description) + ")";
    return "offers prohibited " + std::string(p.code) + " (" + std::string(p.description) + ")";
}

inline const ProtocolEntry* registered(std::string_view name) {
    for (const auto& e : registry())
        if (e.name == name) return &e;
    return nullptr;
}

inline int run_select(Arguments& args) {
    const taps::Criteria criteria = take_criteria(args);
    args.refuse_unknown_options();
    const auto ranking = taps::rank(Shipped::infos, criteria);
    std::printf("require %s; prefer %s; avoid %s; prohibit %s\n", codes_of(criteria.required).c_str(),
                codes_of(criteria.preferred).c_str(), codes_of(criteria.avoided).c_str(),
                codes_of(criteria.prohibited).c_str());
    std::printf("%-5s %-10s %-9s %-8s %s\n", "rank", "protocol", "preferred", "avoided", "composition");
    for (std::size_t i = 0; i < ranking.admitted; ++i) {
        const auto& v = ranking.order[i];
        const auto name = Shipped::infos[v.candidate].name;
        const ProtocolEntry* entry = registered(name);
        std::printf("%-5zu %-10.*s %u of %-4u %u of %-3u %s\n", i + 1, static_cast<int>(name.size()), name.data(),
                    v.preferred_met, taps::count_bits(criteria.preferred), v.avoided_met,
                    taps::count_bits(criteria.avoided),
                    entry ? entry->composition.c_str() : "(not built into this tapsec)");
    }
    if (ranking.admitted < Shipped::size) std::printf("excluded:\n");
    for (std::size_t i = ranking.admitted; i < Shipped::size; ++i) {
        const auto& v = ranking.order[i];
        const auto name = Shipped::infos[v.candidate].name;
        std::printf("      %-10.*s %s\n", static_cast<int>(name.size()), name.data(), exclusion_reason(v).c_str());
    }
    // A protocol registered without a compile-time candidate here would be silently unranked.
    for (const auto& e : registry()) {
        bool listed = false;
        for (const auto& c : Shipped::infos) listed = listed || c.name == e.name;
        if (!listed) std::printf("not ranked (no candidate in tools/cli/select.hpp): %s\n", e.name.c_str());
    }
    std::fflush(stdout);
    if (ranking.admitted == 0) return fail("no composition offers all the required properties without a prohibited one");
    return 0;
}

inline int run_connect_auto(Arguments& args) {
    if (args.flag("--help")) {
        std::printf("usage: tapsec connect auto HOST:PORT [options]\n\n%s", auto_usage.c_str());
        return 0;
    }
    if (args.target.empty()) return usage_fail("connect auto: missing HOST:PORT");
    const taps::Criteria criteria = take_criteria(args);
    const HostPort target = parse_host_port(args.target);
    taps::RaceOptions race;
    if (auto ms = args.take_uint("--stagger", 0, 60'000)) race.stagger = std::chrono::milliseconds(*ms);
    if (auto timeout = args.take_seconds("--handshake-timeout")) race.timeout = *timeout;

    tls13::Config config;
    config.alpn = args.take_list("--alpn").value_or(std::vector<std::string>{"tapsec"});
    config.server_name = args.take("--servername").value_or(target.host);
    auto cert = args.take_file("--cert");
    auto key = args.take_file("--key");
    if (cert.has_value() != key.has_value()) return usage_fail("--cert and --key go together");
    if (cert) {
        if (!crypto::Botan2::Certificate::chain_from_pem(*cert)) return usage_fail("--cert: no PEM certificate");
        if (!crypto::Botan2::PrivateKey::from_pem(*key)) return usage_fail("--key: no readable private key");
        config.identity = Identity(*cert, *key);
    }
    if (auto ca = args.take_file("--CAfile")) {
        if (!crypto::Botan2::Certificate::chain_from_pem(*ca)) return usage_fail("--CAfile: no PEM certificate");
        config.trust.ca_certificates_pem = {*ca};
    }
    if (args.flag("--noverify")) {
        config.delegate_authentication = true;
        config.validate_peer = [](const PeerIdentity&) { return std::error_code{}; };
    } else if (config.trust.empty()) {
        config.trust.use_system_store = true;
    }
    config.handshake_timeout = race.timeout;
    config.answer_close_notify = false;  // as connect tls13: the pump answers after sending what stdin holds
    const bool quiet = args.flag("--quiet");
    args.refuse_unknown_options();

    const auto ranking = taps::rank(Raceable::infos, criteria);
    if (ranking.admitted == 0) {
        std::string why;
        for (std::size_t i = 0; i < Raceable::size; ++i) {
            const auto& v = ranking.order[i];
            why += (i ? "; " : "") + std::string(Raceable::infos[v.candidate].name) + " " + exclusion_reason(v);
        }
        return fail("connect auto: no raceable composition fits: " + why);
    }
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < ranking.admitted; ++i) order.push_back(ranking.order[i].candidate);

    std::string resolve_error;
    if (!resolve(target.host, target.port, SOCK_STREAM, resolve_error)) return fail(resolve_error);
    auto outcome = taps::race_in_order<Raceable, 0b11>(order, taps::Remote{target.host, target.port}, config, race);
    if (!outcome) return fail("connect auto " + args.target + ": " + outcome.failure());
    if (!quiet) {
        std::string line = "tapsec: auto: ";
        for (std::size_t i = 0; i < outcome.attempts.size(); ++i) line += (i ? "; " : "") + outcome.attempts[i].describe();
        std::fprintf(stderr, "%s\n", line.c_str());
    }
    return std::visit(
        [&](auto& connection) -> int {
            if constexpr (std::is_same_v<std::decay_t<decltype(connection)>, std::monostate>) {
                return fail("connect auto: no connection");
            } else {
                if (!quiet) {
                    const auto info = connection->info();
                    std::fprintf(stderr, "tapsec: %s, %s, %s\n", info.protocol.c_str(), info.cipher_suite.c_str(),
                                 info.group.c_str());
                }
                PumpOptions options;
                options.quiet = quiet;
                // TLS 1.3 still receives after its close_notify; a QUIC CONNECTION_CLOSE ends
                // both directions, so it waits for the peer (or the linger) as `connect quic` does.
                options.half_close = outcome.name == "tls13";
                return pump(*connection, options);
            }
        },
        outcome.connection);
}

}  // namespace tapsec::cli::selection
