// The parts of the HTTP/2 session that need no nghttp2: the output queue and its
// per-stream accounting, a stream's request built from its fields, the flood counters
// and the frame-header scanner.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fake_transport.hpp"
#include "h2/frame_rates.hpp"
#include "h2/h2_stream.hpp"
#include "h2/output_queue.hpp"
#include "h2/stream_pool.hpp"
#include "temp_dir.hpp"

namespace pywebd {
namespace {

IoResult flush_all(OutputQueue& queue, Transport& transport) {
    IoResult r{Io::Done, 0, 0};
    for (int i = 0; i < 10000 && !queue.empty(); ++i) {
        std::size_t budget = 1 << 20;
        r = queue.flush(transport, budget);
        if (r.status != Io::Done && r.status != Io::WouldBlock) break;
    }
    return r;
}

TEST(OutputQueue, WritesCopiesMemoryAndFileRangesInOrderThroughPartialWrites) {
    test::TempDir dir;
    dir.write("file.bin", "0123456789abcdef");
    const int fd = ::open((dir.path() / "file.bin").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    H2Stream a(1), b(3);
    const std::string body = "BODY";
    OutputQueue queue;
    queue.copy("head-a|", 7, &a);
    queue.memory(body.data(), body.size(), &a);
    queue.copy("head-b|", 7, &b);
    queue.file(fd, 4, 6, &b);
    queue.copy("|tail", 5);
    EXPECT_EQ(queue.bytes(), 29u);
    EXPECT_EQ(a.queued, 2u);
    EXPECT_EQ(b.queued, 2u);
    test::FakeTransport sink;
    sink.write_limit = 3;  // every chunk split across writes
    sink.block_every_other = true;
    ASSERT_EQ(flush_all(queue, sink).status, Io::Done);
    EXPECT_EQ(sink.sent, "head-a|BODYhead-b|456789|tail");
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.bytes(), 0u);
    // Each stream learns that its chunks went, and counts only body bytes.
    EXPECT_EQ(a.queued, 0u);
    EXPECT_EQ(b.queued, 0u);
    EXPECT_EQ(a.body_sent, 4u);
    EXPECT_EQ(b.body_sent, 6u);
    ::close(fd);
}

TEST(OutputQueue, MoreFollowsOnlyBeforeAFileRange) {
    test::TempDir dir;
    dir.write("file.bin", "xyz");
    const int fd = ::open((dir.path() / "file.bin").c_str(), O_RDONLY | O_CLOEXEC);
    OutputQueue queue;
    queue.copy("frame header", 12);
    queue.file(fd, 0, 3, nullptr);
    queue.copy("next", 4);
    test::FakeTransport sink;
    ASSERT_EQ(flush_all(queue, sink).status, Io::Done);
    EXPECT_EQ(sink.sent, "frame headerxyznext");
    EXPECT_EQ(sink.more, (std::vector<bool>{true, false}));
    ::close(fd);
}

TEST(OutputQueue, AFileThatEndsEarlyIsAFailureWithoutAnErrorNumber) {
    test::TempDir dir;
    dir.write("short.bin", "ab");
    const int fd = ::open((dir.path() / "short.bin").c_str(), O_RDONLY | O_CLOEXEC);
    OutputQueue queue;
    queue.file(fd, 0, 10, nullptr);  // announced 10, the file has 2
    test::FakeTransport sink;
    const IoResult r = flush_all(queue, sink);
    EXPECT_EQ(r.status, Io::Failed);
    EXPECT_EQ(r.error, 0);
    ::close(fd);
}

TEST(OutputQueue, ClearForgetsEverythingAndReleasesTheStreams) {
    H2Stream s(1);
    OutputQueue queue;
    queue.copy("abc", 3, &s);
    queue.memory("def", 3, &s);
    ASSERT_EQ(s.queued, 2u);
    queue.clear();
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.bytes(), 0u);
    EXPECT_EQ(s.queued, 0u);
    EXPECT_EQ(s.body_sent, 0u);
}

TEST(OutputQueue, TheBudgetStopsAFlushEarly) {
    std::string big(100000, 'z');
    OutputQueue queue;
    queue.memory(big.data(), big.size(), nullptr);
    test::FakeTransport sink;
    sink.write_limit = 1000;
    std::size_t budget = 5000;
    EXPECT_EQ(queue.flush(sink, budget).status, Io::Done);
    EXPECT_EQ(budget, 0u);
    EXPECT_EQ(sink.sent.size(), 5000u);
    EXPECT_EQ(queue.bytes(), 95000u);
}

H2Stream stream_with(const std::vector<std::pair<std::string, std::string>>& fields, std::size_t limit = 4096) {
    H2Stream s(1);
    for (const auto& [name, value] : fields) s.add_field(name, value, limit);
    s.finish_head();
    return s;
}

TEST(H2Stream, TheRequestComesFromThePseudoFieldsAndTheRest) {
    const H2Stream s = stream_with({{":method", "GET"},
                                    {":scheme", "https"},
                                    {":authority", "example.org"},
                                    {":path", "/a/b.txt?x=1&y"},
                                    {"if-none-match", "\"abc\""},
                                    {"range", "bytes=0-1"},
                                    {"user-agent", "test"}});
    EXPECT_EQ(s.request.method, http::Method::Get);
    EXPECT_EQ(s.request.path, "/a/b.txt");
    EXPECT_TRUE(s.request.has_query);
    EXPECT_EQ(s.request.query, "x=1&y");
    EXPECT_EQ(s.request.authority, "example.org");
    EXPECT_TRUE(s.request.has_if_none_match);
    EXPECT_EQ(s.request.range, "bytes=0-1");
    EXPECT_EQ(s.request.user_agent, "test");
    ASSERT_EQ(s.request.fields.size(), 3u);  // the pseudo-fields are not among them
    EXPECT_EQ(s.request_line, "GET /a/b.txt?x=1&y HTTP/2.0");
}

TEST(H2Stream, HostStandsInForAMissingAuthorityAndAsteriskIsOptionsStar) {
    const H2Stream s = stream_with({{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "h.test"}});
    EXPECT_EQ(s.request.authority, "h.test");
    const H2Stream both =
        stream_with({{":method", "GET"}, {":authority", "a.test"}, {":path", "/"}, {"host", "h.test"}});
    EXPECT_EQ(both.request.authority, "a.test");  // RFC 9113 §8.3.1
    const H2Stream star = stream_with({{":method", "OPTIONS"}, {":scheme", "http"}, {":path", "*"}});
    EXPECT_TRUE(star.request.asterisk);
    EXPECT_EQ(star.request.method, http::Method::Options);
}

TEST(H2Stream, FieldsPastTheLimitAreCountedNotKept) {
    H2Stream s(1);
    EXPECT_TRUE(s.add_field(":method", "GET", 100));         // 7 + 3 + 32 = 42
    EXPECT_TRUE(s.add_field(":path", "/", 100));             // 42 + 6 + 32 = 80
    EXPECT_FALSE(s.add_field("x-long", "0123456789", 100));  // 80 + 16 + 32 = 128 > 100
    EXPECT_TRUE(s.too_large);
    EXPECT_FALSE(s.add_field("a", "b", 100)) << "nothing more is kept once past the limit";
    EXPECT_EQ(s.spans.size(), 2u);
    EXPECT_EQ(s.field_bytes, 128u + 34u);
}

// An oversized request is still what it is: its method and (cut) path are kept.
TEST(H2Stream, PseudoFieldsAreKeptPastTheLimitCutToIt) {
    H2Stream s(1);
    EXPECT_FALSE(s.add_field(":path", "/" + std::string(200, 'p'), 100));
    EXPECT_FALSE(s.add_field(":method", "HEAD", 100));
    EXPECT_FALSE(s.add_field("x-a", "b", 100));
    s.finish_head();
    EXPECT_TRUE(s.too_large);
    EXPECT_EQ(s.request.method, http::Method::Head);
    EXPECT_EQ(s.request.path.size(), 100u);
    EXPECT_EQ(s.target_length, 201u);
    EXPECT_TRUE(s.fields.empty());
}

TEST(H2Stream, FieldLinesCountCookieCrumbsAsOneAndTargetLengthIsThePath) {
    const H2Stream s = stream_with({{":method", "GET"},
                                    {":path", "/0123456789"},
                                    {"cookie", "a=1"},
                                    {"cookie", "b=2"},
                                    {"cookie", "c=3"},
                                    {"accept", "*/*"}});
    EXPECT_EQ(s.field_lines, 2u);  // one Cookie line, one Accept
    EXPECT_EQ(s.target_length, 11u);
}

// A released stream refers to nothing (its file is let go), comes back as a new stream
// with the old buffers' capacity, and the pool keeps no more than its bound.
TEST(StreamPool, ReusesStreamsClearedWithTheirCapacity) {
    StreamPool pool;
    auto first = pool.acquire(1);
    H2Stream* const address = first.get();
    for (int i = 0; i < 20; ++i) first->add_field("x-field-" + std::to_string(i), std::string(50, 'v'), 1 << 20);
    first->finish_head();
    auto file = std::make_shared<int>(7);
    first->response.holds = file;
    first->response.status = 200;
    first->closed = true;
    first->queued = 3;
    const std::size_t capacity = first->text.capacity();
    pool.release(std::move(first));
    EXPECT_EQ(file.use_count(), 1) << "the pooled stream still holds the body";
    auto again = pool.acquire(3);
    ASSERT_EQ(again.get(), address);
    EXPECT_EQ(again->id, 3);
    EXPECT_TRUE(again->text.empty() && again->spans.empty() && again->fields.empty() && again->request_line.empty());
    EXPECT_GE(again->text.capacity(), capacity);
    EXPECT_EQ(again->response.status, 0);
    EXPECT_FALSE(again->closed || again->head_done || again->too_large);
    EXPECT_EQ(again->queued, 0u);
    EXPECT_EQ(again->field_bytes + again->field_lines + again->target_length, 0u);

    auto big = pool.acquire(7);
    big->add_field("x-big", std::string(StreamPool::kKeepTextBytes + 1, 'b'), 1 << 20);
    pool.release(std::move(big));
    EXPECT_EQ(pool.spare(), 0u) << "a stream that held a large request is freed, not kept";

    std::vector<std::unique_ptr<H2Stream>> many;
    for (std::size_t i = 0; i < StreamPool::kKeep + 10; ++i) many.push_back(pool.acquire(static_cast<int>(2 * i + 5)));
    for (auto& s : many) pool.release(std::move(s));
    EXPECT_EQ(pool.spare(), StreamPool::kKeep);
}

// WINDOW_UPDATE frames that acknowledge DATA the server sent are not a flood; beyond
// those, the limit holds as for any other kind.
TEST(FrameRates, WindowUpdatesEarnedByDataAreNotCounted) {
    FrameRates rates;
    for (int i = 0; i < 50; ++i) rates.data_sent(4096);  // two updates each
    for (int i = 0; i < 100 + 10; ++i) ASSERT_TRUE(rates.allow(FrameRates::WindowUpdate, 1000, 10)) << i;
    EXPECT_FALSE(rates.allow(FrameRates::WindowUpdate, 1000, 10));
    rates.data_sent(16384);  // credit is not a budget for other kinds
    EXPECT_TRUE(rates.allow(FrameRates::Ping, 1000, 1));
    EXPECT_FALSE(rates.allow(FrameRates::Ping, 1000, 1));
}

// Frames of a byte each (a window opened a byte at a time) earn nothing until their
// bytes add up; and credit does not bank without end.
TEST(FrameRates, TinyDataFramesEarnNoWindowUpdates) {
    FrameRates rates;
    for (int i = 0; i < 4095; ++i) rates.data_sent(1);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(rates.allow(FrameRates::WindowUpdate, 1000, 10)) << i;
    EXPECT_FALSE(rates.allow(FrameRates::WindowUpdate, 1000, 10));
    rates.data_sent(1);  // the 4096th byte: two updates earned
    EXPECT_TRUE(rates.allow(FrameRates::WindowUpdate, 1000, 10));
    EXPECT_TRUE(rates.allow(FrameRates::WindowUpdate, 1000, 10));
    EXPECT_FALSE(rates.allow(FrameRates::WindowUpdate, 1000, 10));
    FrameRates banked;
    banked.data_sent(std::size_t{1} << 30);  // 1 GiB would earn 524,288
    int allowed = 0;
    while (banked.allow(FrameRates::WindowUpdate, 1000, 10)) ++allowed;
    EXPECT_EQ(allowed, 4096 + 10);
}

TEST(FrameRates, EachKindHasItsOwnBudgetPerSecond) {
    FrameRates rates;
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(rates.allow(FrameRates::Ping, 1000, 10));
    EXPECT_FALSE(rates.allow(FrameRates::Ping, 1500, 10));
    EXPECT_TRUE(rates.allow(FrameRates::Settings, 1500, 10)) << "another kind is not affected";
    EXPECT_TRUE(rates.allow(FrameRates::Ping, 2000, 10)) << "a new second starts over";
}

TEST(FrameRates, WhatCounts) {
    EXPECT_EQ(FrameRates::kind_of(0x0, 0x0, 0), FrameRates::EmptyData);
    EXPECT_EQ(FrameRates::kind_of(0x0, 0x1, 0), FrameRates::kKinds);  // an empty DATA that ends the stream
    EXPECT_EQ(FrameRates::kind_of(0x0, 0x0, 5), FrameRates::kKinds);
    EXPECT_EQ(FrameRates::kind_of(0x1, 0x5, 20), FrameRates::kKinds);  // HEADERS: a request
    EXPECT_EQ(FrameRates::kind_of(0x3, 0x0, 4), FrameRates::RstStream);
    EXPECT_EQ(FrameRates::kind_of(0x6, 0x0, 8), FrameRates::Ping);
    EXPECT_EQ(FrameRates::kind_of(0x8, 0x0, 4), FrameRates::WindowUpdate);
}

std::string frame(std::uint8_t type, std::uint8_t flags, const std::string& payload) {
    const auto n = static_cast<std::uint32_t>(payload.size());
    std::string out = {static_cast<char>(n >> 16),
                       static_cast<char>(n >> 8),
                       static_cast<char>(n),
                       static_cast<char>(type),
                       static_cast<char>(flags),
                       0,
                       0,
                       0,
                       1};
    return out + payload;
}

TEST(FrameScanner, FindsEveryHeaderAfterThePrefaceHoweverTheBytesAreSplit) {
    const std::string input = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + frame(0x4, 0, "") +
                              frame(0x1, 0x5, std::string(20, 'h')) + frame(0x0, 0, "") +
                              frame(0x0, 0x1, std::string(100, 'd')) + frame(0x6, 0, "12345678");
    const std::vector<int> expected = {0x4, 0x1, 0x0, 0x0, 0x6};
    for (std::size_t piece = 1; piece <= input.size(); ++piece) {
        FrameScanner scanner;
        std::vector<int> types;
        for (std::size_t at = 0; at < input.size(); at += piece)
            scanner.scan(std::string_view(input).substr(at, piece),
                         [&](std::uint8_t type, std::uint8_t, std::uint32_t) { types.push_back(type); });
        ASSERT_EQ(types, expected) << "pieces of " << piece;
    }
}

}  // namespace
}  // namespace pywebd
