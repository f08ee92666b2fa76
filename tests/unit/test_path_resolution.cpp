// Nothing outside the root is ever served: the path normaliser and the openat2 opener,
// against a traversal corpus.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "static/file_open.hpp"
#include "static/uri_path.hpp"
#include "temp_dir.hpp"

namespace pywebd {
namespace {

struct NormalCase {
    const char* raw;
    PathError error;
    const char* path = "";
    bool trailing_slash = false;
};

TEST(NormalizePath, Table) {
    const NormalCase table[] = {
        {"/", PathError::None, "/", true},
        {"/index.html", PathError::None, "/index.html", false},
        {"/a/b/", PathError::None, "/a/b", true},
        {"//a///b", PathError::None, "/a/b", false},
        {"/a/./b", PathError::None, "/a/b", false},
        {"/a/b/..", PathError::None, "/a", true},
        {"/a/b/../c", PathError::None, "/a/c", false},
        {"/a/.", PathError::None, "/a", true},
        {"/a/..", PathError::None, "/", true},
        {"/%61%62", PathError::None, "/ab", false},
        {"/a%2Fb", PathError::None, "/a/b", false},  // an encoded slash is a slash
        {"/caf%C3%A9", PathError::None, "/caf\xc3\xa9", false},
        {"/%252e%252e/x", PathError::None, "/%2e%2e/x", false},  // decoded once only
        {"/..", PathError::AboveRoot},
        {"/../etc/passwd", PathError::AboveRoot},
        {"/a/../../etc/passwd", PathError::AboveRoot},
        {"/%2e%2e/etc/passwd", PathError::AboveRoot},
        {"/%2E%2E%2Fetc%2Fpasswd", PathError::AboveRoot},
        {"/a/%2e%2e/%2e%2e/x", PathError::AboveRoot},
        {"/.%2e/x", PathError::AboveRoot},
        {"/a%00b", PathError::ControlByte},
        {"/a%0ab", PathError::ControlByte},
        {"/a%7f", PathError::ControlByte},
        {"/a%5c..%5cb", PathError::Backslash},
        {"/%5c", PathError::Backslash},
        {"/%c0%ae%c0%ae/etc", PathError::BadUtf8},  // overlong '.'
        {"/%c0%af", PathError::BadUtf8},            // overlong '/'
        {"/%e0%80%ae", PathError::BadUtf8},         // three-byte overlong '.'
        {"/%ed%a0%80", PathError::BadUtf8},         // surrogate
        {"/%ff", PathError::BadUtf8},
        {"/%c3", PathError::BadUtf8},  // truncated sequence
        {"/%", PathError::BadEscape},
        {"/%4", PathError::BadEscape},
        {"/%zz", PathError::BadEscape},
        {"/a%g0", PathError::BadEscape},
    };
    NormalPath out;
    for (const NormalCase& c : table) {
        SCOPED_TRACE(c.raw);
        ASSERT_EQ(normalize_path(c.raw, out), c.error);
        if (c.error != PathError::None) continue;
        EXPECT_EQ(out.path, c.path);
        EXPECT_EQ(out.trailing_slash, c.trailing_slash);
    }
}

TEST(NormalizePath, DotSegmentsAreFlagged) {
    NormalPath out;
    ASSERT_EQ(normalize_path("/.git/config", out), PathError::None);
    EXPECT_TRUE(out.has_dot_segment);
    ASSERT_EQ(normalize_path("/a/.hidden", out), PathError::None);
    EXPECT_TRUE(out.has_dot_segment);
    ASSERT_EQ(normalize_path("/a/%2ehtaccess", out), PathError::None);
    EXPECT_TRUE(out.has_dot_segment);
    ASSERT_EQ(normalize_path("/.git/../index.html", out), PathError::None);
    EXPECT_FALSE(out.has_dot_segment);  // judged on the path that is opened
    ASSERT_EQ(normalize_path("/a.b/c.d", out), PathError::None);
    EXPECT_FALSE(out.has_dot_segment);
}

TEST(NormalizePath, RelativeFormForOpenat) {
    NormalPath out;
    ASSERT_EQ(normalize_path("/", out), PathError::None);
    EXPECT_EQ(out.relative(), ".");
    ASSERT_EQ(normalize_path("/a/b", out), PathError::None);
    EXPECT_EQ(out.relative(), "a/b");
}

// Both ways of confining opens to the root, against the same escapes.
class OpenConfined : public testing::TestWithParam<Confinement> {
protected:
    void SetUp() override {
        dir_.write("outside/secret.txt", "secret");
        dir_.write("root/ok.txt", "ok");
        dir_.write("root/sub/inner.txt", "inner");
        std::filesystem::create_symlink("../outside/secret.txt", dir_.path() / "root/escape");
        std::filesystem::create_symlink("/etc/passwd", dir_.path() / "root/absolute");
        std::filesystem::create_symlink("sub/inner.txt", dir_.path() / "root/inside");
        std::filesystem::create_directory_symlink("../outside", dir_.path() / "root/outdir");
        std::filesystem::create_directory_symlink("sub", dir_.path() / "root/subdir");
        ::mkfifo((dir_.path() / "root/fifo").c_str(), 0644);
        root_.reset(::open((dir_.path() / "root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(root_.valid());
    }
    std::uint16_t status_of(const char* relative) {
        const OpenResult r = open_confined(root_.get(), relative, GetParam());
        return r.fd ? 200 : status_for_open_error(r.error);
    }
    test::TempDir dir_;
    UniqueFd root_;
};

TEST_P(OpenConfined, ServesInsideRoot) {
    EXPECT_EQ(status_of("ok.txt"), 200);
    EXPECT_EQ(status_of("sub/inner.txt"), 200);
    EXPECT_EQ(status_of("."), 200);
    // A symlink that stays inside: openat2 follows it; the fallback follows none.
    const std::uint16_t inside = GetParam() == Confinement::Openat2 ? 200 : 404;
    EXPECT_EQ(status_of("inside"), inside);
    EXPECT_EQ(status_of("subdir/inner.txt"), inside);
}

TEST_P(OpenConfined, RefusesEveryEscape) {
    EXPECT_EQ(status_of("escape"), 404);             // relative symlink out of the root
    EXPECT_EQ(status_of("absolute"), 404);           // absolute symlink
    EXPECT_EQ(status_of("outdir/secret.txt"), 404);  // through a directory symlink
    EXPECT_EQ(status_of("missing"), 404);
    EXPECT_EQ(status_of("ok.txt/x"), 404);
}

TEST_P(OpenConfined, LocateOpensOnlyRegularFilesForReading) {
    Located fifo = locate(root_.get(), "fifo", GetParam());
    ASSERT_TRUE(fifo.fd.valid());
    EXPECT_TRUE(S_ISFIFO(fifo.st.st_mode));
    EXPECT_EQ(::fcntl(fifo.fd.get(), F_GETFL) & O_PATH, O_PATH);  // looked at, not opened
    Located dir = locate(root_.get(), "sub", GetParam());
    EXPECT_TRUE(S_ISDIR(dir.st.st_mode));
    EXPECT_EQ(::fcntl(dir.fd.get(), F_GETFL) & O_PATH, O_PATH);
    Located file = locate(root_.get(), "sub/inner.txt", GetParam());
    ASSERT_TRUE(file.fd.valid());
    EXPECT_TRUE(S_ISREG(file.st.st_mode));
    char buffer[16];
    EXPECT_EQ(::pread(file.fd.get(), buffer, sizeof buffer, 0), 5);  // readable: "inner"
    struct stat st {};
    ASSERT_EQ(::fstat(file.fd.get(), &st), 0);
    EXPECT_EQ(st.st_ino, file.st.st_ino);  // the very inode that was checked
    EXPECT_EQ(locate(root_.get(), "missing", GetParam()).error, ENOENT);
    EXPECT_FALSE(locate(root_.get(), "escape", GetParam()).fd);
}

INSTANTIATE_TEST_SUITE_P(BothWays, OpenConfined, testing::Values(Confinement::Openat2, Confinement::NoSymlinks),
                         [](const testing::TestParamInfo<Confinement>& param) {
                             return param.param == Confinement::Openat2 ? std::string("Openat2")
                                                                        : std::string("NoSymlinks");
                         });

TEST(Openat2, AvailableHereAndRefusesLexicalEscapes) {
    ASSERT_EQ(detect_confinement(), Confinement::Openat2) << "this kernel or sandbox has no openat2";
    test::TempDir dir;
    dir.write("root/a", "a");
    UniqueFd root(::open((dir.path() / "root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    // Only openat2 meets raw ".." and absolute paths: normalisation removes them before
    // the fallback ever runs.
    EXPECT_EQ(status_for_open_error(open_beneath(root.get(), "../root/a").error), 404);
    EXPECT_EQ(status_for_open_error(open_beneath(root.get(), "/etc/passwd").error), 404);
}

TEST(OpenErrorStatus, Mapping) {
    EXPECT_EQ(status_for_open_error(ENOENT), 404);
    EXPECT_EQ(status_for_open_error(EXDEV), 404);
    EXPECT_EQ(status_for_open_error(EACCES), 403);
    EXPECT_EQ(status_for_open_error(EMFILE), 503);
    EXPECT_EQ(status_for_open_error(EIO), 500);
}

}  // namespace
}  // namespace pywebd
