// Pieces of the worker that need no sockets: deadline lists, buffer pool, access log.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "h1/request_buffers.hpp"
#include "log/access_log.hpp"
#include "net/timer_lists.hpp"
#include "redirects.hpp"
#include "static/content_tags.hpp"
#include "temp_dir.hpp"

namespace pywebd {
namespace {

using std::chrono::milliseconds;

TEST(TimerLists, ExpireInDeadlineOrderAcrossKinds) {
    TimerLists timers({milliseconds(100), milliseconds(50), milliseconds(10), milliseconds(5)});
    TimerNode a, b, c, d;
    timers.arm(a, TimerKind::Header, 0);     // 100
    timers.arm(b, TimerKind::KeepAlive, 0);  // 50
    timers.arm(c, TimerKind::Header, 20);    // 120
    timers.arm(d, TimerKind::Send, 0);       // 10
    EXPECT_EQ(timers.next_deadline(), 10);
    EXPECT_EQ(timers.pop_expired(9), nullptr);
    EXPECT_EQ(timers.pop_expired(10), &d);
    EXPECT_EQ(timers.pop_expired(60), &b);
    EXPECT_EQ(timers.pop_expired(60), nullptr);
    EXPECT_EQ(timers.pop_expired(200), &a);
    EXPECT_EQ(timers.pop_expired(200), &c);
    EXPECT_FALSE(timers.next_deadline());
}

TEST(TimerLists, RearmMovesToTheTailAndDisarmUnlinks) {
    TimerLists timers({milliseconds(100), milliseconds(100), milliseconds(100), milliseconds(100)});
    TimerNode a, b, c;
    timers.arm(a, TimerKind::Send, 0);
    timers.arm(b, TimerKind::Send, 1);
    timers.arm(c, TimerKind::Send, 2);
    timers.arm(a, TimerKind::Send, 3);  // progress: a now expires last
    timers.disarm(b);
    timers.disarm(b);  // twice is harmless
    EXPECT_EQ(timers.pop_expired(1000), &c);
    EXPECT_EQ(timers.pop_expired(1000), &a);
    EXPECT_EQ(timers.pop_expired(1000), nullptr);
    EXPECT_FALSE(a.armed);
}

TEST(TimerLists, SwitchingKindLeavesTheOldList) {
    TimerLists timers({milliseconds(10), milliseconds(1000), milliseconds(10), milliseconds(10)});
    TimerNode a;
    timers.arm(a, TimerKind::Header, 0);
    timers.arm(a, TimerKind::KeepAlive, 0);
    EXPECT_EQ(timers.pop_expired(500), nullptr);
    EXPECT_EQ(timers.pop_expired(1000), &a);
}

TEST(BufferPool, ReusesAndCapsSparesAndResetsEveryRequestField) {
    BufferPool pool(1024, 8, 2);
    auto a = pool.acquire();
    auto b = pool.acquire();
    auto c = pool.acquire();
    EXPECT_EQ(a->headers.size(), 8u);  // each request has its own field array
    a->length = 10;
    a->discard = 5;
    a->body_sent = 7;
    a->segment = 2;
    a->responding = a->client_closes = a->chunked_body = true;
    ASSERT_EQ(a->chunked.feed("5\r\nab", {1024, 64, 64}).status, h1::ChunkedBody::Status::NeedMore);
    pool.release(std::move(c));
    pool.release(std::move(b));
    pool.release(std::move(a));
    EXPECT_EQ(pool.spare(), 2u);
    auto again = pool.acquire();  // the last released: `a`
    EXPECT_EQ(again->length, 0u);
    EXPECT_EQ(again->discard, 0u);
    EXPECT_EQ(again->body_sent, 0u);
    EXPECT_EQ(again->segment, 0u);
    EXPECT_FALSE(again->responding);
    EXPECT_FALSE(again->client_closes);
    EXPECT_FALSE(again->chunked_body);
    EXPECT_EQ(again->chunked.feed("0\r\n\r\n", {1024, 64, 64}).status, h1::ChunkedBody::Status::Done)
        << "the chunked decoder starts over";
}

TEST(RequestBuffers, DropFrontKeepsTheRest) {
    RequestBuffers b(16, 4);
    std::memcpy(b.input.get(), "abcdef", 6);
    b.length = 6;
    b.drop_front(2);
    EXPECT_EQ(b.buffered(), "cdef");
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Opens `path` and returns the content tag of what is there (as the handler would).
std::optional<ETag> content_tag(ContentTags& tags, const std::filesystem::path& path) {
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) return std::nullopt;
    return tags.tag(fd.get(), st);
}

void set_mtime(const std::filesystem::path& path, std::time_t seconds) {
    const timespec times[2] = {{seconds, 0}, {seconds, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

TEST(ContentTags, SameBytesSameTagWhateverTheFileAndItsTime) {
    test::TempDir dir;
    const auto a = dir.write("a.txt", "hello\n");
    const auto b = dir.write("sub/b.txt", "hello\n");
    const auto c = dir.write("c.txt", "hellO\n");
    set_mtime(a, 0);  // a reproducible build's zeroed mtime
    set_mtime(b, 1700000000);
    ContentTags tags(100);
    const auto tag_a = content_tag(tags, a);
    ASSERT_TRUE(tag_a);
    EXPECT_EQ(tag_a->view(), "\"WJG1tSLV3whtD_CxEPvZ0g\"");  // SHA-256 of "hello\n", 128 bits, base64url
    EXPECT_EQ(content_tag(tags, b)->view(), tag_a->view());
    EXPECT_NE(content_tag(tags, c)->view(), tag_a->view());
}

TEST(ContentTags, EachVersionIsHashedOnceAndHugeFilesAreLeftToMetadata) {
    test::TempDir dir;
    const auto a = dir.write("a.txt", "version 1.2.3");
    const auto other = dir.write("other.txt", "something else");
    set_mtime(a, 0);
    ContentTags tags(100);
    const auto first = content_tag(tags, a);
    ASSERT_TRUE(first);
    // The same version again is not read: handed another file's descriptor with a.txt's
    // fstat, the remembered tag comes back, not the other file's.
    {
        const UniqueFd fd_a(::open(a.c_str(), O_RDONLY | O_CLOEXEC));
        const UniqueFd fd_other(::open(other.c_str(), O_RDONLY | O_CLOEXEC));
        struct stat st {};
        ASSERT_EQ(::fstat(fd_a.get(), &st), 0);
        EXPECT_EQ(tags.tag(fd_other.get(), st)->view(), first->view());
    }
    EXPECT_EQ(tags.remembered(), 1u);
    // New bytes of the same size with the mtime reset again (cp -p, rsync --inplace of a
    // reproducible build): the ctime moved, so it is a new version with its own tag.
    dir.write("a.txt", "version 1.2.4");
    set_mtime(a, 0);
    EXPECT_NE(content_tag(tags, a)->view(), first->view());
    EXPECT_EQ(tags.remembered(), 2u);

    const auto huge = dir.write("huge.bin", "");
    std::filesystem::resize_file(huge, ContentTags::kMaxBytes + 1);  // sparse: nothing is read
    EXPECT_FALSE(content_tag(tags, huge));
}

// A file too large to hash keeps a metadata tag, with the ctime in it: rewritten in
// place with its mtime reset, it still gets a new tag.
TEST(ContentTags, TheMetadataTagOfLargeFilesMovesWithTheCtime) {
    test::TempDir dir;
    const auto big = dir.write("big.bin", "v1");
    set_mtime(big, 0);
    struct stat before {};
    ASSERT_EQ(::stat(big.c_str(), &before), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    dir.write("big.bin", "v2");
    set_mtime(big, 0);
    struct stat after {};
    ASSERT_EQ(::stat(big.c_str(), &after), 0);
    ASSERT_EQ(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
    EXPECT_NE(ContentTags::metadata_tag(before).view(), ContentTags::metadata_tag(after).view());
    EXPECT_EQ(ContentTags::metadata_tag(after).view(), ContentTags::metadata_tag(after).view());
}

TEST(ContentTags, TheOldestAreForgottenFirstWhenFull) {
    test::TempDir dir;
    ContentTags tags(2);
    const auto a = dir.write("a", "a"), b = dir.write("b", "b"), c = dir.write("c", "c");
    for (const auto& path : {a, b, c}) ASSERT_TRUE(content_tag(tags, path));
    EXPECT_EQ(tags.remembered(), 2u);
    // Asked with another file's descriptor: a remembered version answers from memory, a
    // forgotten one is read (and so gets that file's tag).
    const auto tag_with = [&](const std::filesystem::path& stat_of, const std::filesystem::path& read_from) {
        struct stat st {};
        EXPECT_EQ(::stat(stat_of.c_str(), &st), 0);
        const UniqueFd fd(::open(read_from.c_str(), O_RDONLY | O_CLOEXEC));
        return std::string(tags.tag(fd.get(), st)->view());
    };
    EXPECT_EQ(tag_with(c, b), std::string(content_tag(tags, c)->view()));  // c: remembered
    EXPECT_EQ(tag_with(a, b), std::string(content_tag(tags, b)->view()));  // a: the oldest, forgotten
}

RedirectRule rule(std::string from, bool prefix, std::string to, bool keep_query = true) {
    RedirectRule r;
    r.from = std::move(from);
    r.prefix = prefix;
    r.to = std::move(to);
    r.keep_query = keep_query;
    return r;
}

TEST(Redirects, ExactBeatsPrefixLongerPrefixBeatsShorterThenTheWholeSite) {
    const Redirects redirects(
        {rule("/a/", true, "/short/"), rule("/a/b/", true, "/long/"), rule("/a/b/c", false, "/x")},
        rule("/", true, "https://example.org/"));
    EXPECT_EQ(redirects.match("/a/b/c")->to, "/x");
    EXPECT_EQ(redirects.match("/a/b/c/d")->to, "/long/");
    EXPECT_EQ(redirects.match("/a/z")->to, "/short/");
    EXPECT_EQ(redirects.match("/elsewhere")->to, "https://example.org/");
    const Redirects none({rule("/a", false, "/b")}, std::nullopt);
    EXPECT_EQ(none.match("/a/"), nullptr);
    EXPECT_EQ(none.match("/ab"), nullptr);
}

TEST(Redirects, LocationAppendsTheRestAndTheQueryAndNeverMakesASecondHost) {
    EXPECT_EQ(Redirects::location(rule("/old/", true, "/new/"), "/old/x/y", true, "q=1"), "/new/x/y?q=1");
    EXPECT_EQ(Redirects::location(rule("/old/", true, "/new/", false), "/old/x", true, "q=1"), "/new/x");
    EXPECT_EQ(Redirects::location(rule("/old", false, "/new?a=1"), "/old", true, "q=1"), "/new?a=1&q=1");
    // The query goes before a fragment the target carries, never into it.
    EXPECT_EQ(Redirects::location(rule("/old", false, "/new#frag"), "/old", true, "k=v"), "/new?k=v#frag");
    EXPECT_EQ(Redirects::location(rule("/old", false, "https://example.org/a?x#frag"), "/old", true, "k=v"),
              "https://example.org/a?x&k=v#frag");
    // "/" + "//evil.example/" would be a scheme-relative reference to another host.
    EXPECT_EQ(Redirects::location(rule("/", true, "/"), "//evil.example/x", false, ""), "/evil.example/x");
    EXPECT_EQ(Redirects::location(rule("/", true, "https://example.org/"), "//x", false, ""), "https://example.org/x");
}

TEST(AccessLog, CombinedFormatEscapesClientText) {
    test::TempDir dir;
    const auto path = dir.path() / "access.log";
    AccessLog log;
    log.reopen(UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)));
    sockaddr_storage address{};
    auto* in = reinterpret_cast<sockaddr_in*>(&address);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(0x7f000001);
    const PeerAddress peer = PeerAddress::from(address);
    log.add({peer, 784111777, "GET /a\"b HTTP/1.1", 200, 1234, "", "agent\\\n\x01", false, "", ""});
    log.flush();
    EXPECT_EQ(read_file(path),
              "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /a\\\"b HTTP/1.1\" 200 1234 \"-\" "
              "\"agent\\\\\\x0A\\x01\"\n");
}

TEST(AccessLog, TlsFieldsFollowTheCombinedFormat) {
    test::TempDir dir;
    const auto path = dir.path() / "access.log";
    AccessLog log;
    log.reopen(UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)));
    const PeerAddress peer{};
    log.add({peer, 0, "GET / HTTP/1.1", 200, 5, "", "", true, "TLSv1.3", "TLS_AES_128_GCM_SHA256"});
    log.add({peer, 0, "GET / HTTP/1.1", 200, 5, "", "", true, "", ""});  // a plain listener
    log.flush();
    EXPECT_EQ(read_file(path),
              "- - - [01/Jan/1970:00:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"-\" TLSv1.3 TLS_AES_128_GCM_SHA256\n"
              "- - - [01/Jan/1970:00:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"-\" - -\n");
}

TEST(PeerAddress, FormatsV4V6AndUnmapsV4Mapped) {
    char text[INET6_ADDRSTRLEN];
    sockaddr_storage address{};
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
    in6->sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, "::ffff:192.0.2.7", &in6->sin6_addr);
    EXPECT_EQ(PeerAddress::from(address).format(text), "192.0.2.7");
    ::inet_pton(AF_INET6, "2001:db8::1", &in6->sin6_addr);
    EXPECT_EQ(PeerAddress::from(address).format(text), "2001:db8::1");
    EXPECT_EQ(PeerAddress{}.format(text), "-");
}

TEST(AccessLog, ReopenFlushesToTheOldFileFirst) {
    test::TempDir dir;
    AccessLog log;
    log.reopen(UniqueFd(::open((dir.path() / "old").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644)));
    const PeerAddress peer{};
    log.add({peer, 0, "GET / HTTP/1.1", 200, 1, "", "", false, "", ""});
    log.reopen(UniqueFd(::open((dir.path() / "new").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644)));
    log.add({peer, 0, "GET /2 HTTP/1.1", 200, 1, "", "", false, "", ""});
    log.flush();
    EXPECT_NE(read_file(dir.path() / "old").find("GET / HTTP/1.1"), std::string::npos);
    EXPECT_NE(read_file(dir.path() / "new").find("GET /2 HTTP/1.1"), std::string::npos);
    EXPECT_EQ(read_file(dir.path() / "new").find("GET / HTTP/1.1"), std::string::npos);
}

}  // namespace
}  // namespace pywebd
