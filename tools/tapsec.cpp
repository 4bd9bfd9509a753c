// The `tapsec` command: the survey's table computed from the code, a demo of every
// composition, and connect/listen for driving any protocol from the shell.
#include <cstdio>
#include <iostream>
#include <string>

#include <tapsec/tapsec.hpp>

#include "cli/registry.hpp"
#include "survey_table.hpp"

namespace tapsec::cli {

int fail(const std::string& message) {
    std::fprintf(stderr, "tapsec: %s\n", message.c_str());
    return 1;
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
    "\n"
    "`tapsec <command> --help` and `tapsec connect <protocol> --help` describe the options.\n";

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
            if (eq != std::string::npos) a.options[arg.substr(0, eq)] = arg.substr(eq + 1);
            else if (i + 1 < argc && argv[i + 1][0] != '-') a.options[arg] = argv[++i];
            else a.flags.insert(arg);
        } else {
            positional.push_back(arg);
        }
    }
    if (!positional.empty()) a.protocol = positional[0];
    if (positional.size() > 1) a.target = positional[1];
    if (positional.size() > 2) a.options["--unexpected-argument"] = positional[2];
    return a;
}

int connect_or_listen(bool is_connect, int argc, char** argv) {
    Arguments args = parse(argc, argv, 2);
    const char* verb = is_connect ? "connect" : "listen";
    if (args.protocol.empty() || args.protocol == "--help") {
        std::printf("usage: tapsec %s <protocol> %s [options]\nprotocols:\n", verb, is_connect ? "HOST:PORT" : "[ADDR:]PORT");
        print_protocols();
        return args.flags.count("--help") || args.protocol == "--help" ? 0 : 1;
    }
    const ProtocolEntry* entry = find(args.protocol);
    if (!entry) return fail("unknown protocol '" + args.protocol + "' (see `tapsec protocols`)");
    if (args.flags.count("--help") || args.flags.count("-h")) {
        std::printf("usage: tapsec %s %s %s [options]\n  %s\n\n%s", verb, entry->name.c_str(),
                    is_connect ? "HOST:PORT" : "[ADDR:]PORT", entry->composition.c_str(), entry->usage.c_str());
        return 0;
    }
    if (args.target.empty() && !entry->target_optional) return fail(std::string(verb) + " " + entry->name + ": missing " + (is_connect ? "HOST:PORT" : "PORT"));
    const auto& run = is_connect ? entry->connect : entry->listen;
    if (!run) return fail(entry->name + " does not support " + verb);
    return run(args);
}

}  // namespace
}  // namespace tapsec::cli

int main(int argc, char** argv) {
    using namespace tapsec::cli;
    if (argc < 2) {
        std::fputs(main_usage, stderr);
        return 1;
    }
    const std::string command = argv[1];
    const bool help = argc > 2 && (std::string(argv[2]) == "--help" || std::string(argv[2]) == "-h");
    if (command == "--help" || command == "-h" || command == "help") {
        std::fputs(main_usage, stdout);
        return 0;
    }
    if (command == "table") {
        if (help) return std::puts("usage: tapsec table\n  prints the survey's 5.3 table computed from the implemented compositions' types"), 0;
        if (argc > 2) return fail("table takes no arguments");
        return print_table();
    }
    if (command == "demo") {
        if (help) return std::puts("usage: tapsec demo\n  runs a handshake and an echo over loopback for every composition"), 0;
        if (argc > 2) return fail("demo takes no arguments");
        return run_demo();
    }
    if (command == "protocols") return print_protocols();
    if (command == "connect") return connect_or_listen(true, argc, argv);
    if (command == "listen") return connect_or_listen(false, argc, argv);
    return fail("unknown command '" + command + "' (try `tapsec --help`)");
}
