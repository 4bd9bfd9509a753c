// A documentation page that shows a code file must show it exactly: the file's text
// inside a ```cpp fence, byte for byte, so the example the tests compile is the one a
// reader copies.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace tapsec::test {

/// Checks that docs/<doc> holds tests/<code> verbatim in a ```cpp fence (paths relative
/// to the source tree).
inline void check_doc_shows_file(const std::string& doc_path, const std::string& code_path) {
    auto read = [](const std::filesystem::path& path) {
        std::ifstream in(path);
        REQUIRE_MESSAGE(in.good(), path.string());
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    const std::filesystem::path source(TAPSEC_SOURCE_DIR);
    const std::string doc = read(source / doc_path);
    const std::string code = read(source / code_path);
    const std::string fence = "```cpp\n";
    const auto start = doc.find(fence + code.substr(0, 40));
    REQUIRE_MESSAGE(start != std::string::npos, (doc_path + " does not show " + code_path));
    const auto body = start + fence.size();
    CHECK(doc.compare(body, code.size(), code) == 0);
    CHECK(doc.compare(body + code.size(), 3, "```") == 0);
}

}  // namespace tapsec::test
