// Every input in tests/fuzz/corpus/ (seeds, and any crash a fuzzer ever found) runs
// through the fuzz targets' invariant checks in the ordinary test suite.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "targets.hpp"

namespace pywebd::fuzz {
namespace {

void replay(const std::string& name, void (*target)(const std::uint8_t*, std::size_t)) {
    const std::filesystem::path dir = std::filesystem::path(PYWEBD_SOURCE_DIR) / "tests/fuzz/corpus" / name;
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        std::ifstream in(entry.path(), std::ios::binary);
        const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        SCOPED_TRACE(entry.path().string());
        target(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());  // aborts on a violation
        ++files;
    }
    EXPECT_GT(files, 0) << "empty corpus " << dir;
}

TEST(FuzzCorpus, RequestParser) { replay("request_parser", request_parser); }
TEST(FuzzCorpus, UriPath) { replay("uri_path", uri_path); }
TEST(FuzzCorpus, ByteRanges) { replay("byte_ranges", byte_ranges); }
TEST(FuzzCorpus, H2Session) { replay("h2_session", h2_session); }

}  // namespace
}  // namespace pywebd::fuzz
