// tapsec_bench: runs the registered suites (all, or those named) and prints one table.
#include <cstdio>
#include <fstream>
#include <string>

#include "harness.hpp"

int main(int argc, char** argv) {
    using namespace tapsec::bench;
    std::vector<std::string> wanted;
    std::string csv;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--csv" && i + 1 < argc) csv = argv[++i];
        else if (a == "--list") {
            for (auto& s : suites()) std::printf("%-16s %s\n", s.name.c_str(), s.description.c_str());
            return 0;
        } else if (a == "--help" || a == "-h") {
            std::printf("usage: tapsec_bench [--list] [--csv FILE] [suite...]\n");
            return 0;
        } else wanted.push_back(a);
    }
    std::vector<Row> all;
    for (auto& s : suites()) {
        bool run = wanted.empty();
        for (auto& w : wanted) run = run || w == s.name;
        if (!run) continue;
        std::fprintf(stderr, "running %s...\n", s.name.c_str());
        Report r(s.name);
        s.run(r);
        all.insert(all.end(), r.rows().begin(), r.rows().end());
    }
    std::printf("| suite | measurement | value | unit | note |\n|---|---|---:|---|---|\n");
    for (auto& r : all)
        std::printf("| %s | %s | %.3f | %s | %s |\n", r.suite.c_str(), r.name.c_str(), r.value, r.unit.c_str(), r.note.c_str());
    if (!csv.empty()) {
        std::ofstream out(csv);
        out << "suite,measurement,value,unit,note\n";
        for (auto& r : all) out << r.suite << ',' << r.name << ',' << r.value << ',' << r.unit << ",\"" << r.note << "\"\n";
    }
    return 0;
}
