// The `tapsec` command: the survey's table computed from the code, a demo of every
// composition, and connect/listen for driving any protocol from the shell.
#include <botan/version.h>
#if TAPSEC_HAVE_OPENSSL_PROVIDER
#include <openssl/crypto.h>
#endif

#include <cstdio>
#include <iostream>
#include <regex>
#include <string>

#include <tapsec/tapsec.hpp>

#include "cli/provider_option.hpp"
#include "cli/registry.hpp"
#include "cli/select.hpp"
#include "survey_table.hpp"

namespace tapsec::cli {

int fail(const std::string& message) {
    std::fprintf(stderr, "tapsec: %s\n", message.c_str());
    return 1;
}

int usage_fail(const std::string& message) {
    std::fprintf(stderr, "tapsec: %s\n", message.c_str());
    return 2;
}

namespace {

constexpr const char* main_usage =
    "usage: tapsec <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  table                         print the survey's Section 5.3 table, computed from the\n"
    "                                feature sets of the compositions implemented here\n"
    "  demo                          handshake and echo over loopback with every composition\n"
    "  connect <protocol> HOST:PORT  connect, then move stdin/stdout over the secure connection\n"
    "  listen <protocol> [ADDR:]PORT accept one connection, then move stdin/stdout over it\n"
    "  protocols                     list the protocols and their compositions\n"
    "  select --require LIST ...     rank the compositions by the security properties an\n"
    "                                application states (docs/selection.md)\n"
    "  connect auto HOST:PORT        race QUIC and TLS 1.3 (those the --require/--prefer/\n"
    "                                --avoid/--prohibit properties admit); the first wins\n"
    "  show wireguard CONFIG         the interface and peers as `wg show` prints them\n"
    "                                (--status FILE: a running instance's live figures)\n"
    "  completion bash|zsh           print a bash or zsh completion script (protocols, options)\n"
    "  --version                     version, crypto providers, Botan and OpenSSL versions\n"
    "\n"
    "HOST may be a name (resolved with getaddrinfo), an IPv4 address or [IPv6]. listen\n"
    "PORT alone binds every address (0.0.0.0, as openssl s_server); ADDR:PORT binds one.\n"
    "\n"
    "Options shared by the protocols that have them (the openssl s_client / s_server names;\n"
    "`tapsec connect <protocol> --help` lists each protocol's own):\n"
    "  --CAfile FILE             trust anchors (PEM) for the peer's certificate\n"
    "  --cert FILE --key FILE    our certificate chain and private key (PEM)\n"
    "  --noverify                do not verify the peer (testing only; alias --insecure)\n"
    "  --servername NAME         SNI and the name checked in the certificate\n"
    "  --ciphersuites LIST       cipher suites (aliases --ciphers, --cipher)\n"
    "  --groups LIST             key-exchange groups (alias --curves)\n"
    "  --alpn LIST               application protocols\n"
    "  --handshake-timeout S     give up the handshake after S seconds (alias --timeout)\n"
    "  --quiet / --verbose       less / more on stderr\n"
    "  --provider NAME           crypto provider, openssl or botan, where the composition takes\n"
    "                            one (`tapsec --version` lists which do, and the default)\n"
    "A LIST is separated by ':' or ',' (either, everywhere). `--opt=value` works too.\n"
    "\n"
    "Exit status: 0 success (a clean close), 1 runtime failure (network, handshake,\n"
    "peer), 2 command-line mistake (unknown option, missing or bad value, unreadable or\n"
    "malformed input file).\n";

#ifndef TAPSEC_VERSION
#define TAPSEC_VERSION "unknown"
#endif
#ifndef TAPSEC_LIBCRYPTO_VERSION
#define TAPSEC_LIBCRYPTO_VERSION ""
#endif

/// The version, the crypto providers built in (with the versions of the libraries behind
/// them), the one the commands default to, and which commands take --provider.
int print_version() {
    std::printf("tapsec %s\n", TAPSEC_VERSION);
    std::printf("crypto providers built in (--provider NAME; the first is the default of connect, listen and demo):\n");
    for (const auto& p : built_in_providers) {
        std::string library;
        if (std::string_view(p.option) == "botan") library = "Botan " + Botan::short_version_string();
#if TAPSEC_HAVE_OPENSSL_PROVIDER
        if (std::string_view(p.option) == "openssl")
            library = std::string(OpenSSL_version(OPENSSL_VERSION)) + " (built against " + TAPSEC_LIBCRYPTO_VERSION + ")";
#endif
        std::printf("  %-8s %.*s: %s%s\n", p.option, int(p.name.size()), p.name.data(), library.c_str(),
                    &p == &default_provider ? ", the default" : "");
    }
#if !TAPSEC_HAVE_OPENSSL_PROVIDER
    std::printf("  (openssl: not built in, libcrypto 3 was not found when tapsec was built)\n");
#endif
    std::string taking, botan_only;
    for (const auto& e : registry()) {
        std::string& list = provider_taking_commands().count(e.name) ? taking : botan_only;
        list += (list.empty() ? "" : " ") + e.name;
    }
    std::printf("commands taking --provider: %s\n", taking.c_str());
    if (!botan_only.empty()) std::printf("commands on Botan 2 only: %s\n", botan_only.c_str());
    std::printf("library default (Secure<> without a provider argument): %s\n", std::string(crypto::Botan2::name).c_str());
    std::printf("protocols:");
    for (const auto& e : registry()) std::printf(" %s", e.name.c_str());
    std::printf("\n");
    return 0;
}

/// Every option a protocol's usage text names, for completion.
std::set<std::string> options_of(const std::string& usage) {
    std::set<std::string> out;
    static const std::regex option("(^|[\\s(,/])(--[A-Za-z][A-Za-z0-9-]*)");
    for (auto it = std::sregex_iterator(usage.begin(), usage.end(), option); it != std::sregex_iterator(); ++it)
        out.insert((*it)[2].str());
    return out;
}

/// The options completed with a file name, and with a directory (bash and zsh alike).
constexpr const char* file_options[] = {"--CAfile",     "--cert",        "--key",       "--config",
                                        "--sess-in",    "--sess-out",    "--early-data", "--ticket-key-file",
                                        "--psk-file",   "--directory",   "--output",    "--keylogfile"};
constexpr const char* directory_options[] = {"--key-dir", "--server-key-dir", "--htdocs"};

std::string joined(const auto& words, const char* separator) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : separator) + std::string(w);
    return out;
}

/// A protocol's options for completion: those its usage names, and their aliases.
std::string completion_words(const ProtocolEntry& e) {
    std::string words = "--help";
    const auto options = options_of(e.usage);
    for (const auto& o : options) words += " " + o;
    for (const auto& [alias, canonical] : option_aliases())
        if (options.count(canonical)) words += " " + alias;
    return words;
}

/// A zsh completion script generated from the registry, as the bash one: commands,
/// protocols, each protocol's options, file and directory names after the options that
/// take them. Works from fpath (#compdef) and when sourced (compdef).
/// The words after `tapsec`, for both shells.
constexpr const char* top_level_words = "table demo connect listen show protocols select completion --help --version";

int print_zsh_completion() {
    std::string protocols;
    for (const auto& e : registry()) protocols += e.name + " ";
    std::printf("#compdef tapsec\n");
    std::printf("# zsh completion for tapsec, generated by `tapsec completion zsh`\n");
    std::printf("_tapsec() {\n");
    std::printf("    local -a opts\n");
    std::printf("    if (( CURRENT == 2 )); then\n");
    std::printf("        compadd -- %s; return\n", top_level_words);
    std::printf("    fi\n");
    std::printf("    case $words[2] in\n");
    std::printf("        completion) (( CURRENT == 3 )) && compadd -- bash zsh; return;;\n");
    std::printf("        connect|listen|show) ;;\n");
    std::printf("        *) return;;\n");
    std::printf("    esac\n");
    std::printf("    if (( CURRENT == 3 )); then compadd -- %s--help; return; fi\n", protocols.c_str());
    std::printf("    case $words[CURRENT-1] in\n");
    std::printf("        %s) _files; return;;\n", joined(file_options, "|").c_str());
    std::printf("        %s) _files -/; return;;\n", joined(directory_options, "|").c_str());
    std::printf("    esac\n");
    std::printf("    case $words[3] in\n");
    for (const auto& e : registry()) std::printf("        %s) opts=(%s);;\n", e.name.c_str(), completion_words(e).c_str());
    std::printf("    esac\n");
    std::printf("    if [[ $PREFIX == -* ]]; then compadd -a opts; else _files; fi\n");
    std::printf("}\n");
    std::printf("if [[ $funcstack[1] == _tapsec ]]; then _tapsec \"$@\"; else compdef _tapsec tapsec; fi\n");
    return 0;
}

/// A bash completion script generated from the registry: commands, protocols, and each
/// protocol's options; files are completed after options that take a FILE.
int print_completion(const std::string& shell) {
    if (shell == "zsh") return print_zsh_completion();
    if (shell != "bash") return usage_fail("completion: bash or zsh (`tapsec completion bash|zsh`)");
    std::string protocols;
    for (const auto& e : registry()) protocols += e.name + " ";
    std::printf("# bash completion for tapsec, generated by `tapsec completion bash`\n");
    std::printf("_tapsec() {\n");
    std::printf("    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} opts=\"\"\n");
    std::printf("    if [ \"$COMP_CWORD\" -eq 1 ]; then\n");
    std::printf("        COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return\n", top_level_words);
    std::printf("    fi\n");
    std::printf("    case ${COMP_WORDS[1]} in\n");
    std::printf("        completion) COMPREPLY=($(compgen -W \"bash zsh\" -- \"$cur\")); return;;\n");
    std::printf("        connect|listen|show) ;;\n");
    std::printf("        *) return;;\n");
    std::printf("    esac\n");
    std::printf("    if [ \"$COMP_CWORD\" -eq 2 ]; then COMPREPLY=($(compgen -W \"%s--help\" -- \"$cur\")); return; fi\n",
                protocols.c_str());
    std::printf("    case $prev in\n");
    std::printf("        %s) COMPREPLY=($(compgen -f -- \"$cur\")); return;;\n", joined(file_options, "|").c_str());
    std::printf("        %s) COMPREPLY=($(compgen -d -- \"$cur\")); return;;\n", joined(directory_options, "|").c_str());
    std::printf("    esac\n");
    std::printf("    case ${COMP_WORDS[2]} in\n");
    for (const auto& e : registry()) std::printf("        %s) opts=\"%s\";;\n", e.name.c_str(), completion_words(e).c_str());
    std::printf("    esac\n");
    std::printf("    [[ $cur == -* ]] && COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n");
    std::printf("}\n");
    std::printf("complete -o default -F _tapsec tapsec\n");
    return 0;
}

int print_protocols() {
    for (const auto& e : registry()) std::printf("%-12s %s\n", e.name.c_str(), e.composition.c_str());
    return 0;
}

std::string cells_of(const FeatureSet& f) {
    std::string out;
    hana::for_each(feature::optional_columns, [&](auto tag) {
        using F = typename decltype(tag)::type;
        out.push_back(static_cast<char>(f.template availability<F>()));
    });
    return out;
}

int print_table() {
    std::printf("Survey Section 5.3, computed from tapsec's types (M mandatory, S supported, U unsupported).\n");
    std::printf("A cell marked ! differs from the survey's published table; the notes below say why.\n\n");
    std::printf("%-12s %-10s", "protocol", "row");
    hana::for_each(feature::optional_columns, [](auto tag) {
        std::printf(" %-4s", std::string(decltype(tag)::type::code).c_str());
    });
    std::printf("\n");
    std::vector<std::string> notes;
    for (const auto& e : registry()) {
        const std::string cells = cells_of(e.features);
        const SurveyRow* survey = nullptr;
        for (const auto& row : survey_table)
            if (row.protocol == e.survey_row) survey = &row;
        std::printf("%-12s %-10s", e.name.c_str(), e.survey_row.c_str());
        int column = 0;
        hana::for_each(feature::optional_columns, [&](auto tag) {
            const char mine = cells[static_cast<std::size_t>(column)];
            const bool differs = survey && survey->cells[static_cast<std::size_t>(column)] != mine;
            std::printf(" %c%-3s", mine, differs ? "!" : "");
            if (differs) {
                const std::string code(decltype(tag)::type::code);
                std::string why = "unexplained";
                for (const auto& [column_code, reason] : e.survey_differences)
                    if (column_code == code) why = reason;
                notes.push_back(e.name + " " + code + ": survey " + survey->cells[static_cast<std::size_t>(column)] +
                                ", tapsec " + mine + ": " + why);
            }
            ++column;
        });
        std::printf("\n");
    }
    std::printf("\nComposition types:\n");
    for (const auto& e : registry()) std::printf("  %-12s %s\n", e.name.c_str(), e.composition.c_str());
    if (!notes.empty()) {
        std::printf("\nDifferences from the survey:\n");
        for (const auto& n : notes) std::printf("  %s\n", n.c_str());
    }
    std::printf("\nSurvey footnotes: ");
    for (const auto& row : survey_table)
        if (!row.notes.empty()) std::printf("%.*s: %.*s; ", int(row.protocol.size()), row.protocol.data(),
                                            int(row.notes.size()), row.notes.data());
    std::printf("\n");
    return 0;
}

int run_demo() {
    int failures = 0;
    std::printf("%-12s %-8s %10s %10s  %s\n", "protocol", "result", "handshake", "echo", "negotiated");
    for (const auto& e : registry()) {
        if (!e.demo) continue;
        DemoResult r = e.demo();
        if (r.ok)
            std::printf("%-12s %-8s %8.2fms %8.2fms  %s\n", e.name.c_str(), "ok", r.handshake_ms, r.echo_ms,
                        r.negotiated.c_str());
        else {
            std::printf("%-12s %-8s %10s %10s  %s\n", e.name.c_str(), "FAILED", "-", "-", r.error.c_str());
            ++failures;
        }
        std::fflush(stdout);
    }
    return failures ? 1 : 0;
}

const ProtocolEntry* find(const std::string& name) {
    for (const auto& e : registry())
        if (e.name == name) return &e;
    return nullptr;
}

/// Splits argv into Arguments. Options take a value unless listed as flags by the
/// protocol's usage text (a word after --x that starts with "--" makes --x a flag).
Arguments parse(int argc, char** argv, int first) {
    Arguments a;
    std::vector<std::string> positional;
    for (int i = first; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.rfind("--", 0) == 0 || (arg.size() > 1 && arg[0] == '-' && !std::isdigit(static_cast<unsigned char>(arg[1])))) {
            if (arg.rfind("--", 0) != 0) arg = "-" + arg;  // accept -CAfile like openssl
            auto eq = arg.find('=');
            if (eq != std::string::npos) a.options[canonical_option(arg.substr(0, eq))] = arg.substr(eq + 1);
            else if (!known_flags().count(canonical_option(arg)) && i + 1 < argc &&
                     (argv[i + 1][0] != '-' || std::isdigit(static_cast<unsigned char>(argv[i + 1][1]))))
                a.options[canonical_option(arg)] = argv[++i];  // "-3" is a value (to be refused by name), not an option
            else a.flags.insert(canonical_option(arg));
        } else {
            positional.push_back(arg);
        }
    }
    if (!positional.empty()) a.protocol = positional[0];
    if (positional.size() > 1) a.target = positional[1];
    if (positional.size() > 2) throw UsageError("unexpected argument '" + positional[2] + "'");
    return a;
}

int connect_or_listen(bool is_connect, int argc, char** argv) {
    Arguments args = parse(argc, argv, 2);
    const char* verb = is_connect ? "connect" : "listen";
    args.verb = verb;
    if (args.protocol.empty() || args.protocol == "--help") {
        const bool asked = args.flags.count("--help") || args.protocol == "--help";
        std::FILE* out = asked ? stdout : stderr;
        std::fprintf(out, "usage: tapsec %s <protocol> %s [options]\nprotocols:\n", verb, is_connect ? "HOST:PORT" : "[ADDR:]PORT");
        for (const auto& e : registry()) std::fprintf(out, "%-12s %s\n", e.name.c_str(), e.composition.c_str());
        return asked ? 0 : 2;
    }
    if (is_connect && args.protocol == "auto") return selection::run_connect_auto(args);
    const ProtocolEntry* entry = find(args.protocol);
    if (!entry) return usage_fail("unknown protocol '" + args.protocol + "' (see `tapsec protocols`)");
    if (args.flags.count("--help") || args.flags.count("-h")) {
        std::printf("usage: tapsec %s %s %s [options]\n  %s\n\n%s", verb, entry->name.c_str(),
                    is_connect ? "HOST:PORT" : "[ADDR:]PORT", entry->composition.c_str(), entry->usage.c_str());
        return 0;
    }
    if (args.target.empty() && !entry->target_optional)
        return usage_fail(std::string(verb) + " " + entry->name + ": missing " + (is_connect ? "HOST:PORT" : "[ADDR:]PORT"));
    const auto& run = is_connect ? entry->connect : entry->listen;
    if (!run) return fail(entry->name + " does not support " + verb);
    return run(args);
}

int show(int argc, char** argv) {
    Arguments args = parse(argc, argv, 2);
    args.verb = "show";
    std::string names;
    for (const auto& [name, run] : show_commands()) names += (names.empty() ? "" : ", ") + name;
    if (args.protocol.empty() || args.protocol == "--help" || (args.flags.count("--help") && !show_commands().count(args.protocol))) {
        const bool asked = args.protocol == "--help" || args.flags.count("--help");
        std::fprintf(asked ? stdout : stderr, "usage: tapsec show <protocol> [arguments]\nprotocols with a status view: %s\n", names.c_str());
        return asked ? 0 : 2;
    }
    auto it = show_commands().find(args.protocol);
    if (it == show_commands().end()) return usage_fail("show: no status view for '" + args.protocol + "' (" + names + ")");
    if (args.flags.count("--help")) {
        const ProtocolEntry* entry = find(args.protocol);
        std::printf("usage: tapsec show %s CONFIG | --config FILE | --status FILE\n\n%s", args.protocol.c_str(),
                    entry ? entry->usage.c_str() : "");
        return 0;
    }
    return it->second(args);
}

}  // namespace
}  // namespace tapsec::cli

int run_command(int argc, char** argv) {
    using namespace tapsec::cli;
    if (argc < 2) {
        std::fputs(main_usage, stderr);
        return 2;
    }
    const std::string command = argv[1];
    const bool help = argc > 2 && (std::string(argv[2]) == "--help" || std::string(argv[2]) == "-h");
    if (command == "--help" || command == "-h" || command == "help") {
        std::fputs(main_usage, stdout);
        return 0;
    }
    if (command == "table") {
        if (help) return std::puts("usage: tapsec table\n  prints the survey's 5.3 table computed from the implemented compositions' types"), 0;
        if (argc > 2) return usage_fail("table takes no arguments");
        return print_table();
    }
    if (command == "demo") {
        if (help) return std::puts("usage: tapsec demo\n  runs a handshake and an echo over loopback for every composition"), 0;
        if (argc > 2) return usage_fail("demo takes no arguments");
        return run_demo();
    }
    if (command == "protocols") return print_protocols();
    if (command == "select") {
        if (help) return std::fputs(selection::select_usage.c_str(), stdout), 0;
        Arguments args = parse(argc, argv, 2);
        args.verb = "select";
        if (!args.protocol.empty()) return usage_fail("select: unexpected argument '" + args.protocol + "'");
        return selection::run_select(args);
    }
    if (command == "--version" || command == "version") return print_version();
    if (command == "completion") {
        if (help || argc != 3) return help ? (std::puts("usage: tapsec completion bash|zsh"), 0) : usage_fail("usage: tapsec completion bash|zsh");
        return print_completion(argv[2]);
    }
    if (command == "show") return show(argc, argv);
    if (command == "connect") return connect_or_listen(true, argc, argv);
    if (command == "listen") return connect_or_listen(false, argc, argv);
    return usage_fail("unknown command '" + command + "' (try `tapsec --help`)");
}

int main(int argc, char** argv) {
    try {
        return run_command(argc, argv);
    } catch (const tapsec::cli::UsageError& e) {
        return tapsec::cli::usage_fail(e.what());
    } catch (const tapsec::cli::RuntimeFailure& e) {
        return tapsec::cli::fail(e.what());
    }
}
