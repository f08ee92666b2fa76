// The chunked request body reader (RFC 9112 §7.1): every case fed whole, one byte at a
// time, and split in two at every offset, the way a connection's buffer hands it over
// (what a call left unconsumed is given again with what arrives next).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "h1/chunked_body.hpp"

namespace pywebd::h1 {
namespace {

using Status = ChunkedBody::Status;

constexpr ChunkedBody::Limits kLimits{.max_data = 1024, .max_line = 64, .max_trailers = 128};

struct Outcome {
    Status status;
    std::size_t consumed;
    ParseError error;
    std::uint64_t data;
};

// Feeds `input` in pieces ending at `cuts` (then the rest), keeping what a call did not
// consume in front of the next piece.
Outcome feed_in_pieces(std::string_view input, const std::vector<std::size_t>& cuts,
                       const ChunkedBody::Limits& limits = kLimits) {
    ChunkedBody body;
    std::size_t used = 0;
    ChunkedBody::Result r{Status::NeedMore, 0};
    for (std::size_t end : cuts) {
        if (end < used) continue;
        r = body.feed(input.substr(used, end - used), limits);
        used += r.consumed;
        if (r.status != Status::NeedMore) return {r.status, used, r.error, body.data_bytes()};
    }
    r = body.feed(input.substr(used), limits);
    return {r.status, used + r.consumed, r.error, body.data_bytes()};
}

// Every way of handing `input` over gives `expected`.
void expect_everywhere(std::string_view input, const Outcome& expected, const ChunkedBody::Limits& limits = kLimits) {
    auto check = [&](const Outcome& got, const std::string& how) {
        EXPECT_EQ(got.status, expected.status) << how;
        EXPECT_EQ(got.consumed, expected.consumed) << how;
        EXPECT_EQ(got.error, expected.error) << how;
        if (expected.status == Status::Done) {
            EXPECT_EQ(got.data, expected.data) << how;
        }
    };
    check(feed_in_pieces(input, {}, limits), "whole");
    std::vector<std::size_t> every_byte;
    for (std::size_t i = 1; i < input.size(); ++i) every_byte.push_back(i);
    check(feed_in_pieces(input, every_byte, limits), "byte by byte");
    for (std::size_t cut = 0; cut <= input.size(); ++cut)
        check(feed_in_pieces(input, {cut}, limits), "split at " + std::to_string(cut));
}

struct ValidCase {
    const char* name;
    std::string body;
    std::uint64_t data;
};

TEST(ChunkedBody, ValidBodiesEndExactlyWhereTheyEnd) {
    const std::string next = "GET /next HTTP/1.1\r\n";  // a pipelined request, never consumed
    const std::vector<ValidCase> cases = {
        {"empty", "0\r\n\r\n", 0},
        {"one chunk", "5\r\nhello\r\n0\r\n\r\n", 5},
        {"two chunks, hex sizes", "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n", 20},
        {"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", 5},
        {"data holding CRLFs", "4\r\n\r\n\r\n\r\n0\r\n\r\n", 4},
        {"extension, name only", "5;x\r\nhello\r\n0\r\n\r\n", 5},
        {"extension with token value", "5;name=value\r\nhello\r\n0;last=yes\r\n\r\n", 5},
        {"extensions with spaces (BWS)", "5 ; a = b ;\tc\r\nhello\r\n0\r\n\r\n", 5},
        {"quoted extension value", "5;q=\"a \\\" ; = b\"\r\nhello\r\n0\r\n\r\n", 5},
        {"trailers", "5\r\nhello\r\n0\r\nChecksum: abc\r\nX-Other:\tv w \r\n\r\n", 5},
        {"empty trailer value", "0\r\nX-Empty:\r\n\r\n", 0},
    };
    for (const ValidCase& c : cases) {
        SCOPED_TRACE(c.name);
        expect_everywhere(c.body + next, {Status::Done, c.body.size(), ParseError::None, c.data});
    }
}

struct InvalidCase {
    const char* name;
    std::string body;
    std::size_t consumed;  // what was accepted before the fault
    ParseError error;
};

TEST(ChunkedBody, MalformedBodiesAreRefusedWhereTheFaultIs) {
    const std::vector<InvalidCase> cases = {
        {"no size", "\r\nhello\r\n0\r\n\r\n", 0, ParseError::BadChunk},
        {"not hex", "g\r\n", 0, ParseError::BadChunk},
        {"sign", "+5\r\nhello\r\n", 0, ParseError::BadChunk},
        {"0x prefix", "0x5\r\nhello\r\n", 0, ParseError::BadChunk},
        {"space before the size", " 5\r\nhello\r\n", 0, ParseError::BadChunk},
        {"space after the size, no extension", "5 \r\nhello\r\n", 0, ParseError::BadChunk},
        {"overflow", "10000000000000000\r\n", 0, ParseError::BadChunk},
        {"bare LF after the size", "5\nhello\r\n0\r\n\r\n", 0, ParseError::BadChunk},
        {"bare CR in the size line", "5\r;x\r\nhello\r\n", 0, ParseError::BadChunk},
        {"extension without a name", "5;\r\nhello\r\n", 0, ParseError::BadChunk},
        {"extension name not a token", "5;a@b\r\nhello\r\n", 0, ParseError::BadChunk},
        {"extension value missing", "5;a=\r\nhello\r\n", 0, ParseError::BadChunk},
        {"unterminated quoted value", "5;a=\"open\r\nhello\r\n", 0, ParseError::BadChunk},
        {"control character in an extension", std::string("5;a=\"\x01\"\r\nhello\r\n"), 0, ParseError::BadChunk},
        {"data longer than its size", "3\r\nhello\r\n0\r\n\r\n", 6, ParseError::BadChunk},
        {"data shorter than its size", "6\r\nhello\r\n0\r\n\r\n", 9, ParseError::BadChunk},
        {"bare LF after the data", "5\r\nhello\n0\r\n\r\n", 8, ParseError::BadChunk},
        {"trailer without a colon", "0\r\nNot a field\r\n\r\n", 3, ParseError::BadTrailer},
        {"trailer with space before the colon", "0\r\nName : v\r\n\r\n", 3, ParseError::BadTrailer},
        {"trailer folded (obs-fold)", "0\r\nA: b\r\n c\r\n\r\n", 9, ParseError::BadTrailer},
        {"trailer with a control character", std::string("0\r\nA: \x7f\r\n\r\n"), 3, ParseError::BadTrailer},
        {"bare LF ending the trailers", "0\r\nA: b\r\n\n", 9, ParseError::BadTrailer},
    };
    for (const InvalidCase& c : cases) {
        SCOPED_TRACE(c.name);
        expect_everywhere(c.body, {Status::Invalid, c.consumed, c.error, 0});
    }
}

TEST(ChunkedBody, LinesLongerThanTheLimitAreRefusedWithoutWaitingForTheirEnd) {
    const std::string long_extension = "5;" + std::string(kLimits.max_line, 'x');
    // No line end anywhere: refused once more than a line's worth is there.
    expect_everywhere(long_extension, {Status::Invalid, 0, ParseError::BadChunk, 0});
    const std::string at_the_limit = "5;" + std::string(kLimits.max_line - 2, 'x') + "\r\nhello\r\n0\r\n\r\n";
    expect_everywhere(at_the_limit, {Status::Done, at_the_limit.size(), ParseError::None, 5});
    const std::string long_trailer = "0\r\nA: " + std::string(kLimits.max_line, 'v') + "\r\n\r\n";
    expect_everywhere(long_trailer, {Status::Invalid, 3, ParseError::BadTrailer, 0});
}

TEST(ChunkedBody, TheTrailerSectionIsBounded) {
    std::string body = "0\r\n";
    while (body.size() < 3 + kLimits.max_trailers) body += "Field: value\r\n";  // 14 bytes each
    body += "\r\n";
    const std::size_t accepted = 3 + (kLimits.max_trailers / 14) * 14;
    expect_everywhere(body, {Status::Invalid, accepted, ParseError::BadTrailer, 0});
}

TEST(ChunkedBody, MoreDataThanTheLimitIsTooLargeBeforeItIsRead) {
    // 0x401 = 1025 bytes announced, one more than the limit: refused at the size line.
    expect_everywhere("401\r\n", {Status::TooLarge, 0, ParseError::None, 0});
    // Exactly the limit, in two chunks, is read to its end.
    const std::string full =
        "200\r\n" + std::string(512, 'a') + "\r\n200\r\n" + std::string(512, 'b') + "\r\n0\r\n\r\n";
    expect_everywhere(full, {Status::Done, full.size(), ParseError::None, 1024});
    // One more chunk, of one byte, past it.
    const std::string over = "200\r\n" + std::string(512, 'a') + "\r\n200\r\n" + std::string(512, 'b') + "\r\n1\r\n";
    expect_everywhere(over, {Status::TooLarge, over.size() - 3, ParseError::None, 0});
}

TEST(ChunkedBody, FramingIsBoundedLikeTheData) {
    // One byte of data per chunk with long extensions: the framing alone passes the
    // limit long before the data would.
    std::string chunk = "1;" + std::string(50, 'e') + "\r\nx\r\n";  // 57 bytes, 56 of them framing
    std::string body;
    for (int i = 0; i < 40; ++i) body += chunk;
    const Outcome got = feed_in_pieces(body, {});
    EXPECT_EQ(got.status, Status::TooLarge);
    EXPECT_LE(got.consumed, kLimits.max_data + chunk.size());
}

TEST(ChunkedBody, ABodyWhoseLastLineCrossesTheFramingLimitIsDoneAllTheSame) {
    // 10 bytes of framing ("1\r\n", "\r\n", "0\r\n", "\r\n"); the last line takes it past
    // a limit of 9, but by then the body has been read to its end: nothing is gained by
    // closing the connection.
    const ChunkedBody::Limits limits{.max_data = 9, .max_line = 64, .max_trailers = 128};
    expect_everywhere("1\r\nx\r\n0\r\n\r\n", {Status::Done, 11, ParseError::None, 1}, limits);
}

TEST(ChunkedBody, NothingToReadYetIsNeedMore) {
    ChunkedBody body;
    EXPECT_EQ(body.feed("", kLimits).status, Status::NeedMore);
    const auto r = body.feed("5\r\nhel", kLimits);
    EXPECT_EQ(r.status, Status::NeedMore);
    EXPECT_EQ(r.consumed, 6u);
    EXPECT_EQ(body.data_bytes(), 5u);
}

}  // namespace
}  // namespace pywebd::h1
