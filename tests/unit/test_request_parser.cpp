// The request head, end to end: scanner (line ends, limits), grammar (request line,
// fields) and semantics (Host, framing, target form). Every case runs whole and split
// at every offset, in a buffer that ends at an inaccessible page.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "guarded_buffer.hpp"
#include "h1/head_parser.hpp"
#include "h1/head_scanner.hpp"
#include "h1/request_framing.hpp"

namespace pywebd::h1 {
namespace {

struct Outcome {
    ParseError error = ParseError::None;
    bool complete = false;
    RequestHead head;
    http::Request request;
    MessageFacts message;
    std::size_t consumed = 0;
};

constexpr std::size_t kCapacity = 1024;
constexpr ParseLimits kLimits{8, 256};

// Feeds `raw` to a scanner in pieces (cut at `split`, 0 = whole), then parses.
Outcome run(std::string_view raw, std::size_t split, std::array<Header, 16>& storage) {
    Outcome out;
    HeadScanner scanner;
    const std::size_t size = std::min(raw.size(), kCapacity);
    std::vector<std::size_t> cuts;
    if (split > 0 && split < size) cuts.push_back(split);
    cuts.push_back(size);
    HeadScanner::Result result{HeadScanner::Status::Incomplete};
    for (std::size_t cut : cuts) {
        result = scanner.scan(raw.substr(0, cut), cut == kCapacity);
        if (result.status != HeadScanner::Status::Incomplete) break;
    }
    if (result.status == HeadScanner::Status::Error) {
        out.error = result.error;
        return out;
    }
    if (result.status == HeadScanner::Status::Incomplete) return out;
    out.complete = true;
    out.consumed = scanner.head_end();
    const auto head = raw.substr(scanner.head_begin(), scanner.head_end() - scanner.head_begin());
    out.error = parse_head(head, kLimits, storage, out.head);
    if (out.error == ParseError::None) out.error = analyze(out.head, out.request, out.message);
    return out;
}

struct Case {
    const char* name;
    std::string raw;
    ParseError error;  // None: accepted
    bool complete = true;
};

std::string line(std::string_view s) { return std::string(s) + "\r\n"; }

const std::vector<Case>& cases() {
    static const std::vector<Case> kCases = {
        // Accepted heads.
        {"minimal 1.1", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::None},
        {"1.0 without Host", "GET / HTTP/1.0\r\n\r\n", ParseError::None},
        {"HEAD", "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::None},
        {"leading empty line ignored", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::None},
        {"OWS around value", "GET / HTTP/1.1\r\nHost: \t a \t\r\n\r\n", ParseError::None},
        {"empty field value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", ParseError::None},
        {"obs-text in value", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n", ParseError::None},
        {"absolute-form", "GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n", ParseError::None},
        {"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::None},
        {"HTTP/1.2 served as 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", ParseError::None},
        {"Content-Length body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", ParseError::None},
        {"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", ParseError::None},
        {"chunked case-insensitive", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n",
         ParseError::None},
        {"unknown method is syntax-valid", "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::None},
        {"IPv6 literal host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", ParseError::None},
        // Incomplete: waiting is right.
        {"partial head", "GET / HTTP/1.1\r\nHost: a\r\n", ParseError::None, false},
        {"CR at the end", "GET / HTTP/1.1\r", ParseError::None, false},
        // Line ends (RFC 9112 §2.2).
        {"bare LF line end", "GET / HTTP/1.1\nHost: a\n\n", ParseError::BareLF},
        {"bare LF in field", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", ParseError::BareLF},
        {"bare CR in field", "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", ParseError::BareCR},
        {"CR-only line ends", "GET / HTTP/1.1\rHost: a\r\r", ParseError::BareCR},
        // Request line (§3).
        {"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequestLine},
        {"no version", "GET /\r\nHost: a\r\n\r\n", ParseError::BadRequestLine},
        {"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadVersion},
        {"tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadRequestLine},
        {"method with slash", "GE/T / HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadMethod},
        {"lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", ParseError::BadVersion},
        {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", ParseError::UnsupportedVersion},
        {"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", ParseError::UnsupportedVersion},
        {"version garbage", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", ParseError::BadVersion},
        {"NUL in target", std::string("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 30), ParseError::BadTarget},
        {"backslash in target", "GET /a\\..\\b HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
        {"fragment in target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
        {"non-ASCII target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
        {"URI too long", "GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::UriTooLong},
        {"request line too long", "GET /" + std::string(2000, 'a'), ParseError::RequestLineTooLong},
        // Fields (§5).
        {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", ParseError::ObsFold},
        {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", ParseError::SpaceBeforeColon},
        {"no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", ParseError::BadHeaderName},
        {"no colon, no space", "GET / HTTP/1.1\r\nHosta\r\n\r\n", ParseError::BadHeaderName},
        {"empty name", "GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", ParseError::BadHeaderName},
        {"bad name char", "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", ParseError::BadHeaderName},
        {"NUL in value", std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 36), ParseError::BadHeaderValue},
        {"control char in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", ParseError::BadHeaderValue},
        {"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", ParseError::BadHeaderValue},
        {"too many fields",
         "GET / HTTP/1.1\r\nHost: a\r\n" + line("A: 1") + line("A: 2") + line("A: 3") + line("A: 4") + line("A: 5") +
             line("A: 6") + line("A: 7") + line("A: 8") + "\r\n",
         ParseError::TooManyHeaders},
        {"head too large", "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(1100, 'b'), ParseError::HeadTooLarge},
        // Host (§3.2).
        {"1.1 without Host", "GET / HTTP/1.1\r\n\r\n", ParseError::MissingHost},
        {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ParseError::DuplicateHost},
        {"two Hosts in 1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", ParseError::DuplicateHost},
        {"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ParseError::BadHost},
        {"Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", ParseError::BadHost},
        {"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", ParseError::BadHost},
        // Framing (§6): the request-smuggling vectors.
        {"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
         ParseError::ContentLengthWithTransferEncoding},
        {"TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
         ParseError::ContentLengthWithTransferEncoding},
        {"duplicate CL same value", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
         ParseError::DuplicateContentLength},
        {"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", ParseError::BadContentLength},
        {"CL sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", ParseError::BadContentLength},
        {"CL negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", ParseError::BadContentLength},
        {"CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", ParseError::BadContentLength},
        {"CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", ParseError::BadContentLength},
        {"CL overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
         ParseError::BadContentLength},
        {"CL 2^64", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n",
         ParseError::BadContentLength},
        {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
         ParseError::TransferEncodingInHttp10},
        {"TE not chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
         ParseError::ChunkedNotFinal},
        {"TE chunked then gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
         ParseError::ChunkedNotFinal},
        {"TE gzip then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
         ParseError::UnknownTransferCoding},
        {"TE chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
         ParseError::BadTransferEncoding},
        {"TE over two lines, chunked twice",
         "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         ParseError::BadTransferEncoding},
        {"TE xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
         ParseError::ChunkedNotFinal},
        {"TE empty element", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n",
         ParseError::BadTransferEncoding},
        {"TE with vertical tab",
         "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0b"
         "chunked\r\n\r\n",
         ParseError::BadHeaderValue},
        {"TE with space in name", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
         ParseError::SpaceBeforeColon},
        {"TE chunked with parameter", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n",
         ParseError::ChunkedNotFinal},
        // Target forms (§3.2).
        {"asterisk for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::TargetFormMismatch},
        {"authority-form for GET", "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::TargetFormMismatch},
        {"ftp scheme", "GET ftp://a/b HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
        {"absolute-form empty host", "GET http:///b HTTP/1.1\r\nHost: a\r\n\r\n", ParseError::BadTarget},
    };
    return kCases;
}

void expect_case(const Case& c, std::size_t split) {
    SCOPED_TRACE(testing::Message() << c.name << " split=" << split);
    test::GuardedBuffer buffer(c.raw);
    std::array<Header, 16> storage{};
    const Outcome out = run(buffer.view(), split, storage);
    if (!c.complete) {
        EXPECT_FALSE(out.complete);
        EXPECT_EQ(out.error, ParseError::None) << info(out.error).token;
        return;
    }
    EXPECT_EQ(info(out.error).token, info(c.error).token);
    if (c.error == ParseError::None) {
        EXPECT_TRUE(out.complete);
    }
}

TEST(RequestParser, EveryCaseWhole) {
    for (const Case& c : cases()) expect_case(c, 0);
}

TEST(RequestParser, EveryCaseSplitAtEveryOffset) {
    for (const Case& c : cases())
        for (std::size_t split = 1; split < std::min(c.raw.size(), kCapacity); ++split) expect_case(c, split);
}

TEST(RequestParser, OneByteAtATimeParsesLikeOneRead) {
    const std::string raw = "GET /a/b?c=d HTTP/1.1\r\nHost: example\r\nUser-Agent: t\r\n\r\nNEXT";
    HeadScanner scanner;
    HeadScanner::Result result{HeadScanner::Status::Incomplete};
    std::size_t fed = 0;
    while (result.status == HeadScanner::Status::Incomplete && fed < raw.size())
        result = scanner.scan(std::string_view(raw).substr(0, ++fed), false);
    ASSERT_EQ(result.status, HeadScanner::Status::Complete);
    EXPECT_EQ(scanner.head_end(), raw.size() - 4);  // stops before the pipelined bytes
    EXPECT_EQ(fed, raw.size() - 4);
}

TEST(RequestParser, ExtractsFields) {
    const std::string raw =
        "GET http://h/p/q?x=1 HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\nReferer: r\r\n"
        "User-Agent: ua\r\nRange: bytes=0-1\r\nIf-Range: \"t\"\r\nIf-None-Match: \"a\"\r\n\r\n";
    std::array<Header, 16> storage{};
    const Outcome out = run(raw, 0, storage);
    ASSERT_EQ(out.error, ParseError::None);
    EXPECT_EQ(out.head.method, Method::Get);
    EXPECT_EQ(out.head.version, Version::Http10);
    EXPECT_EQ(out.head.headers.size(), 7u);
    EXPECT_TRUE(out.message.keep_alive);
    EXPECT_EQ(out.request.path, "/p/q");
    EXPECT_EQ(out.request.query, "x=1");
    EXPECT_EQ(out.request.authority, "h");
    EXPECT_EQ(out.request.referer, "r");
    EXPECT_EQ(out.request.user_agent, "ua");
    EXPECT_EQ(out.request.range.value_or(""), "bytes=0-1");
    EXPECT_EQ(out.request.if_range.value_or(""), "\"t\"");
    EXPECT_TRUE(out.request.has_if_none_match);
    EXPECT_EQ(out.head.request_line, "GET http://h/p/q?x=1 HTTP/1.0");
}

// RFC 9112 §3.2.2: for an absolute-form target the server uses the target's authority
// and ignores Host (which must still be present in HTTP/1.1, §3.2).
TEST(RequestParser, AbsoluteFormAuthorityWinsOverHost) {
    std::array<Header, 16> storage{};
    Outcome out = run("GET http://target.example:8080/p HTTP/1.1\r\nHost: other.example\r\n\r\n", 0, storage);
    ASSERT_EQ(out.error, ParseError::None);
    EXPECT_EQ(out.request.authority, "target.example:8080");
    EXPECT_EQ(out.request.path, "/p");
    out = run("GET HTTPS://Target.Example?q HTTP/1.1\r\nHost: other.example\r\n\r\n", 0, storage);
    ASSERT_EQ(out.error, ParseError::None);
    EXPECT_EQ(out.request.authority, "Target.Example");
    EXPECT_EQ(out.request.path, "/");
    out = run("GET /p HTTP/1.1\r\nHost: other.example\r\n\r\n", 0, storage);
    EXPECT_EQ(out.request.authority, "other.example");  // origin-form: Host is the authority
}

TEST(RequestParser, Persistence) {
    struct P {
        const char* raw;
        bool keep_alive;
    };
    const P table[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, CLOSE\r\n\r\n", false},
        {"GET / HTTP/1.0\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
        {"GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n", false},
    };
    for (const P& p : table) {
        SCOPED_TRACE(p.raw);
        std::array<Header, 16> storage{};
        const Outcome out = run(p.raw, 0, storage);
        ASSERT_EQ(out.error, ParseError::None);
        EXPECT_EQ(out.message.keep_alive, p.keep_alive);
    }
}

TEST(RequestParser, RepeatedSingletonFieldsAreDropped) {
    std::array<Header, 16> storage{};
    const Outcome out =
        run("GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n"
            "If-Modified-Since: x\r\n\r\n",
            0, storage);
    ASSERT_EQ(out.error, ParseError::None);
    EXPECT_FALSE(out.request.range.has_value());
    EXPECT_EQ(out.request.if_modified_since.value_or(""), "x");
}

TEST(RequestParser, BodyFraming) {
    std::array<Header, 16> storage{};
    Outcome out = run("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n", 0, storage);
    ASSERT_EQ(out.error, ParseError::None);
    EXPECT_EQ(out.message.content_length, 18446744073709551615ULL);
    out = run("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 0, storage);
    EXPECT_TRUE(out.message.chunked);
    EXPECT_TRUE(out.message.has_body());
}

TEST(RequestParser, ErrorTableGivesStatus) {
    EXPECT_EQ(info(ParseError::UnknownTransferCoding).status, 501);
    EXPECT_EQ(info(ParseError::UnsupportedVersion).status, 505);
    EXPECT_EQ(info(ParseError::UriTooLong).status, 414);
    EXPECT_EQ(info(ParseError::HeadTooLarge).status, 431);
    EXPECT_EQ(info(ParseError::TooManyHeaders).status, 431);
    EXPECT_EQ(info(ParseError::BareCR).status, 400);
}

}  // namespace
}  // namespace pywebd::h1
