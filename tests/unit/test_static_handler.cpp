// The handler's responses, checked field by field for each outcome.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/inotify.h>

#include <algorithm>
#include <array>
#include <filesystem>

#include "h1/head_parser.hpp"
#include "h1/head_scanner.hpp"
#include "h1/request_framing.hpp"
#include "h1/response_head.hpp"
#include "static/static_handler.hpp"
#include "temp_dir.hpp"

namespace pywebd {
namespace {

class HandlerTest : public testing::Test {
protected:
    HandlerTest() : mime_(MimeTypes::load("/etc/mime.types", "utf-8")), date_("pywebd/test"), log_("test") {
        log_.set_level(LogLevel::Crit);
        dir_.write("index.html", "<h1>home</h1>");
        dir_.write("docs/index.html", "docs");
        dir_.write("empty/.keep", "");
        dir_.write("file.txt", "0123456789");
        dir_.write("zero.txt", "");
        dir_.write(".secret", "s");
        root_.reset(::open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    }

    // Handles `raw` as its site would, and renders the head as HTTP/1 does, for has().
    Response& handle(const std::string& raw, ServeOptions options = {}) {
        raw_ = raw;
        h1::HeadScanner scanner;
        EXPECT_EQ(scanner.scan(raw_, false).status, h1::HeadScanner::Status::Complete);
        h1::RequestHead head;
        http::Request request;
        h1::MessageFacts message;
        EXPECT_EQ(h1::parse_head(raw_, {16, 1024}, storage_, head), h1::ParseError::None);
        EXPECT_EQ(h1::analyze(head, request, message), h1::ParseError::None);
        Site site{root_.get(), std::move(options),
                  FileCache(0, std::chrono::seconds(1))};  // no cache: the disk as it is
        StaticHandler handler(mime_, date_, pages_, "XYZ", log_);
        response_.clear();
        if (https_port_ != 0)
            handler.redirect_to_https(site, request, https_port_, now_ms_, response_);
        else
            handler.handle(site, request, now_ms_, response_);
        h1::render_head(response_, h1::ConnectionField::None, head_);
        return response_;
    }
    Response& get(const std::string& target, const std::string& extra = "") {
        return handle("GET " + target + " HTTP/1.1\r\nHost: a\r\n" + extra + "\r\n");
    }
    bool has(const std::string& field) const { return head_.find(field + "\r\n") != std::string::npos; }

    test::TempDir dir_;
    UniqueFd root_;
    MimeTypes mime_;
    DateCache date_;
    ErrorPages pages_;
    Logger log_;
    std::int64_t now_ms_ = 0;
    std::uint16_t https_port_ = 0;  // set: the request arrives on a listener that redirects to HTTPS
    std::string raw_;
    std::array<http::Header, 16> storage_{};
    Response response_;
    std::string head_;
};

TEST_F(HandlerTest, WholeFile) {
    get("/file.txt");
    EXPECT_EQ(response_.status, 200);
    EXPECT_TRUE(has("Content-Type: text/plain; charset=utf-8"));
    EXPECT_TRUE(has("Content-Length: 10"));
    EXPECT_TRUE(has("Accept-Ranges: bytes"));
    EXPECT_TRUE(has("Server: pywebd/test"));
    EXPECT_TRUE(has("X-Content-Type-Options: nosniff"));
    EXPECT_NE(head_.find("\r\nETag: \""), std::string::npos);
    EXPECT_NE(head_.find("\r\nLast-Modified: "), std::string::npos);
    EXPECT_NE(head_.find("\r\nDate: "), std::string::npos);
    ASSERT_EQ(response_.segments.size(), 1u);  // a small file: from memory, one write with the head
    ASSERT_NE(response_.segments[0].data, nullptr);
    EXPECT_EQ(std::string_view(response_.segments[0].data, response_.segments[0].length), "0123456789");
    EXPECT_TRUE(response_.holds);  // the file its memory belongs to, kept alive while sending
}

// The handler's response is in no protocol's syntax: a status and (name, value) fields,
// which HTTP/1 renders with its status line and CRLFs, and HTTP/2 will encode one by one.
TEST_F(HandlerTest, TheResponseIsProtocolFree) {
    get("/file.txt");
    std::vector<std::pair<std::string, std::string>> fields;
    response_.for_each_field([&](const http::Header& f) { fields.emplace_back(f.name, f.value); });
    for (const auto& [name, value] : fields) {
        EXPECT_EQ(name.find_first_of("\r\n: "), std::string::npos) << name;
        EXPECT_EQ(value.find_first_of("\r\n"), std::string::npos) << value;
    }
    const auto has_field = [&](std::string name, std::string value) {
        return std::find(fields.begin(), fields.end(), std::pair(name, value)) != fields.end();
    };
    EXPECT_TRUE(has_field("Content-Length", "10"));
    EXPECT_TRUE(has_field("Server", "pywebd/test"));
    EXPECT_TRUE(has_field("Content-Type", "text/plain; charset=utf-8"));
    EXPECT_EQ(std::count_if(fields.begin(), fields.end(), [](const auto& f) { return f.first == "Connection"; }), 0);
    EXPECT_EQ(head_.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);  // the session's rendering adds the status line
    EXPECT_TRUE(head_.ends_with("\r\n\r\n"));
}

// Any method, any target: the same path and query on https://, the port replaced.
TEST_F(HandlerTest, RedirectToHttpsKeepsPathAndQuery) {
    const struct {
        std::string request;
        std::uint16_t port;
        std::string location;
    } cases[] = {
        {"GET /a%20b/c?x=1&y HTTP/1.1\r\nHost: example.com\r\n", 443, "https://example.com/a%20b/c?x=1&y"},
        {"GET /missing HTTP/1.1\r\nHost: example.com:8080\r\n", 8443, "https://example.com:8443/missing"},
        {"POST /form? HTTP/1.1\r\nHost: [::1]:80\r\nContent-Length: 0\r\n", 443, "https://[::1]/form?"},
        {"GET / HTTP/1.1\r\nHost: [::1]\r\n", 443, "https://[::1]/"},
        {"GET //evil.example/ HTTP/1.1\r\nHost: a\r\n", 443, "https://a//evil.example/"},
        {"GET http://other.example/p HTTP/1.1\r\nHost: a\r\n", 443, "https://other.example/p"},
    };
    for (const auto& c : cases) {
        https_port_ = c.port;
        handle(c.request + "\r\n");
        EXPECT_EQ(response_.status, 308) << c.request;
        EXPECT_TRUE(has("Location: " + c.location)) << c.request << head_;
    }
    handle("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(response_.status, 308);
    EXPECT_TRUE(response_.segments.empty());
}

// So that certbot --webroot can issue the first certificate over plain HTTP.
TEST_F(HandlerTest, RedirectToHttpsServesAcmeChallenges) {
    dir_.write(".well-known/acme-challenge/token123", "token123.thumbprint");
    https_port_ = 443;
    get("/.well-known/acme-challenge/token123");
    EXPECT_EQ(response_.status, 200);
    get("/.well-known/acme-challenge/missing");
    EXPECT_EQ(response_.status, 404);
    get("/.well-known/security.txt");  // only the challenges
    EXPECT_EQ(response_.status, 308);
    get("/.well-known/acme-challenge");  // not a token under it
    EXPECT_EQ(response_.status, 308);
    // Judged on the normalised path: dot segments cannot climb out of the exemption.
    for (const char* escape :
         {"/.well-known/acme-challenge/../../index.html", "/.well-known/acme-challenge/%2e%2e/%2e%2e/file.txt",
          "/.well-known/acme-challenge/..%2f..%2ffile.txt"}) {
        get(escape);
        EXPECT_EQ(response_.status, 308) << escape;
    }
}

TEST_F(HandlerTest, RedirectToHttpsNeedsAHost) {
    https_port_ = 443;
    handle("GET /x HTTP/1.0\r\n\r\n");
    EXPECT_EQ(response_.status, 400);
    EXPECT_FALSE(has("Location: https:///x"));
    // A host the Location could not carry as a host: 400, not a reflected oddity.
    for (const char* host : {"[::1", "::1", "a.b:xyz", "[::1]junk", "a.b:", "a.b:123456", "[::1]:", "a%41.b",
                             "exa_mple.com:80:80", "[]", "[v1.x]"}) {
        handle(std::string("GET /x HTTP/1.1\r\nHost: ") + host + "\r\n\r\n");
        EXPECT_EQ(response_.status, 400) << host << "\n" << head_;
        EXPECT_FALSE(has("Location: https://" + std::string(host) + "/x"));
    }
}

TEST_F(HandlerTest, RedirectToHttpsOfOptionsAsteriskGoesToTheRoot) {
    https_port_ = 443;
    handle("OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n");
    EXPECT_EQ(response_.status, 308);
    EXPECT_TRUE(has("Location: https://example.com/")) << head_;
}

TEST_F(HandlerTest, PlainHttpOnTlsPortSaysSo) {
    StaticHandler handler(mime_, date_, pages_, "XYZ", log_);
    handler.plain_http_on_tls_port(response_);
    EXPECT_EQ(response_.status, 400);
    ASSERT_EQ(response_.segments.size(), 1u);
    const std::string_view body(response_.segments[0].data, response_.segments[0].length);
    EXPECT_NE(body.find("plain HTTP request was sent to an HTTPS port"), std::string_view::npos);
}

TEST_F(HandlerTest, LargerFilesGoOutWithSendfile) {
    ServeOptions options;
    options.small_file = 4;
    handle("GET /file.txt HTTP/1.1\r\nHost: a\r\n\r\n", options);
    ASSERT_EQ(response_.segments.size(), 1u);
    EXPECT_EQ(response_.segments[0].data, nullptr);
    EXPECT_EQ(response_.segments[0].length, 10u);
    EXPECT_GE(response_.file_fd, 0);
    EXPECT_TRUE(response_.holds);
}

TEST_F(HandlerTest, HeadHasFieldsButNoBody) {
    handle("HEAD /file.txt HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_TRUE(has("Content-Length: 10"));
    EXPECT_TRUE(response_.segments.empty());
}

TEST_F(HandlerTest, EmptyFile) {
    get("/zero.txt");
    EXPECT_EQ(response_.status, 200);
    EXPECT_TRUE(has("Content-Length: 0"));
    EXPECT_TRUE(response_.segments.empty());
}

TEST_F(HandlerTest, DirectoriesAndIndex) {
    get("/");
    EXPECT_EQ(response_.status, 200);
    EXPECT_TRUE(has("Content-Type: text/html; charset=utf-8"));
    get("/docs");
    EXPECT_EQ(response_.status, 301);
    EXPECT_TRUE(has("Location: /docs/"));
    get("/docs?x=1");
    EXPECT_TRUE(has("Location: /docs/?x=1"));
    get("/docs/");
    EXPECT_EQ(response_.status, 200);
    get("/empty/");
    EXPECT_EQ(response_.status, 403);
    get("/file.txt/");
    EXPECT_EQ(response_.status, 404);
}

// The Location of a directory redirect is built from the normalised path, so a request
// cannot make it name another host ("//evil.example/..." is scheme-relative).
TEST_F(HandlerTest, DirectoryRedirectNeverLeavesTheSite) {
    struct Case {
        std::string target, location;
    };
    dir_.write("sp ace&\xC3\xA9/q?x/index.html", "x");
    for (const Case& c : std::vector<Case>{
             {"//evil.example/%2e%2e/docs", "/docs/"},
             {"//docs", "/docs/"},
             {"//docs?x=1", "/docs/?x=1"},
             {"/%2e/docs", "/docs/"},
             {"/docs/%2E%2E/docs", "/docs/"},
             {"/./evil.example/../docs", "/docs/"},
             {"/sp%20ace%26%C3%A9", "/sp%20ace%26%C3%A9/"},
             {"/sp%20ace&%C3%A9/q%3Fx", "/sp%20ace%26%C3%A9/q%3Fx/"},
         }) {
        SCOPED_TRACE(c.target);
        get(c.target);
        EXPECT_EQ(response_.status, 301);
        EXPECT_TRUE(has("Location: " + c.location)) << head_;
    }
    get("/%5Cevil.example/docs");  // a backslash is never a separator: refused, not redirected
    EXPECT_EQ(response_.status, 400);
    EXPECT_FALSE(has("Location"));
}

TEST_F(HandlerTest, IndexNamesInOrder) {
    dir_.write("multi/second.html", "2");
    ServeOptions options;
    options.index = {"first.html", "second.html"};
    handle("GET /multi/ HTTP/1.1\r\nHost: a\r\n\r\n", options);
    EXPECT_EQ(response_.status, 200);
    EXPECT_TRUE(has("Content-Length: 1"));
}

TEST_F(HandlerTest, RefusalsAndErrors) {
    get("/missing");
    EXPECT_EQ(response_.status, 404);
    EXPECT_TRUE(has("Content-Type: text/html; charset=utf-8"));
    EXPECT_EQ(response_.segments.size(), 1u);
    EXPECT_NE(std::string_view(response_.segments[0].data, response_.segments[0].length).find("404 Not Found"),
              std::string::npos);
    get("/.secret");
    EXPECT_EQ(response_.status, 404);
    get("/../etc/passwd");
    EXPECT_EQ(response_.status, 400);
    get("/%00");
    EXPECT_EQ(response_.status, 400);
    handle("DELETE /file.txt HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(response_.status, 405);
    EXPECT_TRUE(has("Allow: GET, HEAD, OPTIONS"));
    handle("BREW /file.txt HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(response_.status, 501);
    handle("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(response_.status, 204);
    EXPECT_TRUE(has("Allow: GET, HEAD, OPTIONS"));
    EXPECT_FALSE(has("Content-Length: 0"));  // RFC 9110 §8.6: none on 204
}

TEST_F(HandlerTest, DotfilesWhenConfigured) {
    ServeOptions options;
    options.serve_dotfiles = true;
    handle("GET /.secret HTTP/1.1\r\nHost: a\r\n\r\n", options);
    EXPECT_EQ(response_.status, 200);
}

// RFC 8615: ACME HTTP-01 challenges and security.txt live under /.well-known/, which
// must be served even though dotfiles are not; dotfiles below it still are not.
TEST_F(HandlerTest, WellKnownIsServedByDefaultButNotTheDotfilesBelowIt) {
    dir_.write(".well-known/acme-challenge/token1", "token1.thumbprint");
    dir_.write(".well-known/security.txt", "Contact: mailto:security@example.org");
    dir_.write(".well-known/.htpasswd", "x");
    dir_.write(".well-knownx", "x");
    const std::pair<const char*, int> cases[] = {
        {"/.well-known/acme-challenge/token1", 200},
        {"/.well-known/security.txt", 200},
        {"/%2Ewell-known/security.txt", 200},
        {"/.well-known", 301},
        {"/.well-known/.htpasswd", 404},
        {"/.well-knownx", 404},
        {"/docs/.well-known/security.txt", 404},
    };
    for (const auto& [target, status] : cases) {
        get(target);
        EXPECT_EQ(response_.status, status) << target;
    }
    ServeOptions off;
    off.serve_well_known = false;
    handle("GET /.well-known/security.txt HTTP/1.1\r\nHost: a\r\n\r\n", off);
    EXPECT_EQ(response_.status, 404);
}

TEST_F(HandlerTest, SymlinkOutOfRootIs404) {
    test::TempDir other;
    other.write("secret", "s");
    std::filesystem::create_symlink(other.path() / "secret", dir_.path() / "link");
    get("/link");
    EXPECT_EQ(response_.status, 404);
}

// A FIFO or device node under the root is looked at (O_PATH) but never opened for I/O:
// opening some devices has effects, and a FIFO opened for reading releases a writer.
// inotify reports IN_OPEN for a real open, never for an O_PATH one.
TEST_F(HandlerTest, SpecialFilesAre403AndNeverOpened) {
    const auto fifo = dir_.path() / "pipe";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
    dir_.write("page.txt", "plain");
    ASSERT_EQ(::mkfifo((dir_.path() / "page.txt.gz").c_str(), 0644), 0);  // a "precompressed sibling"
    const UniqueFd watch(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    ASSERT_GE(::inotify_add_watch(watch.get(), fifo.c_str(), IN_OPEN), 0);
    ASSERT_GE(::inotify_add_watch(watch.get(), (dir_.path() / "page.txt.gz").c_str(), IN_OPEN), 0);
    get("/pipe");
    EXPECT_EQ(response_.status, 403);
    get("/page.txt", "Accept-Encoding: gzip\r\n");
    EXPECT_EQ(response_.status, 200);
    EXPECT_FALSE(has("Content-Encoding: gzip"));  // the FIFO is no sibling
    char events[4096];
    EXPECT_EQ(::read(watch.get(), events, sizeof events), -1) << "a FIFO was opened for I/O";
    // The check can fail: a real open of the FIFO is seen.
    UniqueFd(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    EXPECT_GT(::read(watch.get(), events, sizeof events), 0);
}

TEST_F(HandlerTest, RegularFilesStillNeedReadPermission) {
    if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
    const auto locked = dir_.write("locked.txt", "x");
    std::filesystem::permissions(locked, std::filesystem::perms::none);
    get("/locked.txt");
    EXPECT_EQ(response_.status, 403);
}

TEST_F(HandlerTest, ConditionalAndRangeResponses) {
    get("/file.txt");
    const auto etag_at = head_.find("ETag: ") + 6;
    const std::string etag = head_.substr(etag_at, head_.find("\r\n", etag_at) - etag_at);

    get("/file.txt", "If-None-Match: " + etag + "\r\n");
    EXPECT_EQ(response_.status, 304);
    EXPECT_TRUE(has("ETag: " + etag));
    EXPECT_FALSE(has("Content-Length: 10"));
    EXPECT_TRUE(response_.segments.empty());
    EXPECT_TRUE(response_.holds);  // its fields are the file's block: the response keeps the file

    get("/file.txt", "If-Match: \"nope\"\r\n");
    EXPECT_EQ(response_.status, 412);

    get("/file.txt", "Range: bytes=2-4\r\n");
    EXPECT_EQ(response_.status, 206);
    EXPECT_TRUE(has("Content-Range: bytes 2-4/10"));
    EXPECT_TRUE(has("Content-Length: 3"));
    ASSERT_EQ(response_.segments.size(), 1u);
    EXPECT_EQ(std::string_view(response_.segments[0].data, response_.segments[0].length), "234");

    get("/file.txt", "Range: bytes=20-\r\n");
    EXPECT_EQ(response_.status, 416);
    EXPECT_TRUE(has("Content-Range: bytes */10"));
}

// A response lists shared field blocks; any but Server and Date belongs to a file, which
// the response must keep alive until it is rendered and sent.
TEST_F(HandlerTest, EveryResponseListingAFileBlockHoldsTheFile) {
    get("/file.txt");
    const auto etag_at = head_.find("ETag: ") + 6;
    const std::string etag = head_.substr(etag_at, head_.find("\r\n", etag_at) - etag_at);
    for (const std::string& extra : {std::string(), "If-None-Match: " + etag + "\r\n",
                                     std::string("Range: bytes=1-2\r\n"), std::string("Range: bytes=0-1,4-5\r\n"),
                                     std::string("If-Match: \"x\"\r\n"), std::string("Range: bytes=50-\r\n")}) {
        SCOPED_TRACE(extra);
        for (const char* target : {"/file.txt", "/", "/missing", "/docs"}) {
            get(target, extra);
            for (const http::FieldBlock* block : response_.shared) {
                if (block != &date_.fields()) {
                    EXPECT_TRUE(response_.holds) << target << " " << response_.status;
                }
            }
        }
    }
}

TEST_F(HandlerTest, MultipartByteranges) {
    get("/file.txt", "Range: bytes=0-1,5-6\r\n");
    EXPECT_EQ(response_.status, 206);
    EXPECT_TRUE(has("Content-Type: multipart/byteranges; boundary=XYZ"));
    // Assemble the body as the connection would send it.
    std::string body;
    const std::string file = "0123456789";
    for (const BodySegment& s : response_.segments)
        body += s.data ? std::string(s.data, s.length) : file.substr(s.offset, s.length);
    EXPECT_EQ(body,
              "\r\n--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/10\r\n\r\n01"
              "\r\n--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 5-6/10\r\n\r\n56"
              "\r\n--XYZ--\r\n");
    EXPECT_TRUE(has("Content-Length: " + std::to_string(body.size())));
}

}  // namespace
}  // namespace pywebd
