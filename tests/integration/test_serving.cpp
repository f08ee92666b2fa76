// HTTP behaviour of the real binary on a real socket (passed by socket activation): what
// every protocol must answer alike (Serving: HTTP/1.1 plain and TLS, h2, h2c), then what
// belongs to HTTP/1.1's framing alone (Http1Serving).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <thread>

#include "conversation.hpp"
#include "http_client.hpp"
#include "server_process.hpp"
#include "transports.hpp"

namespace pywebd::test {
namespace {

using namespace std::chrono_literals;

std::string pattern(std::size_t size) {
    // Self-describing bytes: a wrong offset shows up as a mismatch, not a coincidence.
    std::string out(size, '\0');
    std::mt19937 random(12345);
    for (char& c : out) c = static_cast<char>(random());
    return out;
}

template <typename Transport>
class Serving : public testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = new ServerProcess(ServerOptions{.tls = Transport::kTls, .h2c = Transport::kH2 && !Transport::kTls});
        server_->write("index.html", "<h1>home</h1>\n");
        server_->write("docs/index.html", "docs");
        server_->write("hello.txt", "hello\n");
        server_->write("big.bin", pattern(10 << 20));
    }
    static void TearDownTestSuite() {
        const int status = server_->stop();
        const std::string log = server_->error_log();
        delete server_;
        server_ = nullptr;
        EXPECT_EQ(status, 0);
        // Bad input never rises above info, and never crashes a worker.
        EXPECT_EQ(log.find("[crit]"), std::string::npos) << log;
        EXPECT_EQ(log.find("[error]"), std::string::npos) << log;
    }
    static HttpClient connect() { return server_->connect(); }
    static Conversation converse() { return Conversation(*server_, Transport::kH2); }
    static std::optional<HttpResponse> get(const std::string& target, const std::string& fields = "") {
        return fetch(*server_, Transport::kH2, {.target = target, .fields = fields});
    }
    static ServerProcess* server_;
};
template <typename Transport>
ServerProcess* Serving<Transport>::server_ = nullptr;
TYPED_TEST_SUITE(Serving, Protocols, TransportName);

template <typename Transport>
class Http1Serving : public Serving<Transport> {};
TYPED_TEST_SUITE(Http1Serving, Transports, TransportName);

// HTTP/2's own counterparts: concurrent streams instead of pipelining.
template <typename Transport>
class H2Serving : public Serving<Transport> {};
TYPED_TEST_SUITE(H2Serving, Http2Only, TransportName);

TYPED_TEST(Serving, GetHeadAndMissing) {
    auto r = this->get("/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "<h1>home</h1>\n");
    EXPECT_EQ(r->header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(r->header("content-length"), "14");
    EXPECT_TRUE(r->has("date"));
    EXPECT_TRUE(r->has("last-modified"));
    EXPECT_TRUE(r->has("etag"));
    EXPECT_EQ(r->header("accept-ranges"), "bytes");
    EXPECT_EQ(r->header("server").rfind("pywebd/", 0), 0u);

    Conversation client = this->converse();
    ASSERT_TRUE(client.connected());
    // The suite really runs over its protocol.
    EXPECT_EQ(client.protocol(), TypeParam::kH2 ? (TypeParam::kTls ? "h2" : "h2c") : "HTTP/1.1");
    r = client.request({.method = "HEAD", .target = "/hello.txt"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("content-length"), "6");
    EXPECT_EQ(r->body, "");
    r = client.get("/hello.txt");  // nothing of a body was sent after the HEAD
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "hello\n");

    r = this->get("/nope.html");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->header("content-type"), "text/html; charset=utf-8");
    EXPECT_NE(r->body.find("404 Not Found"), std::string::npos);
}

TYPED_TEST(Serving, DirectoryRedirectAndMethods) {
    auto r = this->get("/docs?q=1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 301);
    EXPECT_EQ(r->header("location"), "/docs/?q=1");
    r = this->get("/docs/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "docs");

    Conversation client = this->converse();
    r = client.request({.method = "POST", .target = "/hello.txt", .body = "abc"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->header("allow"), "GET, HEAD, OPTIONS");
    r = client.get("/hello.txt");  // the body was drained: the connection is still in step
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);

    r = client.request({.method = "OPTIONS", .target = "*"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204);
}

TYPED_TEST(Http1Serving, KeepAliveAndPipelining) {
    HttpClient client = this->connect();
    for (int i = 0; i < 5; ++i) {
        auto r = client.get("/hello.txt");
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->body, "hello\n");
    }
    std::string batch;
    for (int i = 0; i < 20; ++i)
        batch += "GET /" + std::string(i % 2 ? "hello.txt" : "") + " HTTP/1.1\r\nHost: t\r\n\r\n";
    ASSERT_TRUE(client.send(batch));
    for (int i = 0; i < 20; ++i) {
        auto r = client.read_response();
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->body, i % 2 ? "hello\n" : "<h1>home</h1>\n") << i;  // in order
    }
    ASSERT_TRUE(client.send("GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(client.closed_by_server());
}

TYPED_TEST(Http1Serving, Http10) {
    HttpClient client = this->connect();
    ASSERT_TRUE(client.send("GET /hello.txt HTTP/1.0\r\n\r\n"));
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status_line, "HTTP/1.1 200 OK");
    EXPECT_TRUE(client.closed_by_server());
}

TYPED_TEST(Serving, TenMebibytesByteExact) {
    auto r = this->get("/big.bin");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.size(), 10u << 20);
    EXPECT_TRUE(r->body == pattern(10 << 20));
}

TYPED_TEST(Http1Serving, SlowClientSendingAndReading) {
    HttpClient client = this->connect();
    const std::string request = "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    for (char c : request) {  // one byte at a time, a little apart
        ASSERT_TRUE(client.send(std::string_view(&c, 1)));
        std::this_thread::sleep_for(2ms);
    }
    std::this_thread::sleep_for(300ms);  // let the server fill the socket buffers and wait
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->body == pattern(10 << 20));
}

TYPED_TEST(Serving, TraversalNeverEscapes) {
    for (const char* target : {"/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
                               "/%252e%252e/etc/passwd", "/%c0%ae%c0%ae/etc/passwd", "/a/..%5c..%5cetc/passwd",
                               "//etc/passwd", "/./../etc/passwd", "/docs/../../etc/passwd"}) {
        auto r = this->get(target);
        ASSERT_TRUE(r) << target;
        EXPECT_TRUE(r->status == 400 || r->status == 404) << target << " → " << r->status;
        EXPECT_EQ(r->body.find("root:"), std::string::npos) << target;
    }
}

TYPED_TEST(Http1Serving, BadRequestsThenAGoodOne) {
    const char* bad[] = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\nHost: t\n\n",
        "GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nX: y\r\n z\r\n\r\n",
        "GET / HTTP/3.0\r\nHost: t\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  // a TLS ClientHello
    };
    for (const char* raw : bad) {
        HttpClient client = this->connect();
        ASSERT_TRUE(client.send(std::string(raw) + "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"));
        const std::string answer = client.read_until_close();
        SCOPED_TRACE(raw);
        ASSERT_GE(answer.size(), 12u);
        const int status = std::atoi(answer.c_str() + 9);
        EXPECT_TRUE(status >= 400 && status <= 505) << answer;
        EXPECT_NE(answer.find("Connection: close"), std::string::npos);
        EXPECT_EQ(answer.find("hello\n"), std::string::npos);  // the pipelined request is never answered
    }
    auto r = this->get("/hello.txt");  // and the server is fine
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "hello\n");
}

// Characters no URI may hold are refused alike over every protocol (HTTP/2's :path is
// not HTTP/1.1's request-target grammar, so the server checks it the same way).
TYPED_TEST(Serving, TargetsWithCharactersNoUriMayHoldAre400) {
    for (const char* target : {"/a\"b", "/a<b>", "/x?q=\"<>", "/a{b}", "/a|b", "/a^b", "/a`b", "/a\\b"}) {
        auto r = this->get(target);
        ASSERT_TRUE(r) << target;
        EXPECT_EQ(r->status, 400) << target;
    }
}

TYPED_TEST(Serving, LimitsGive414And431) {
    auto r = this->get("/" + std::string(9000, 'a'));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 414);
    std::string many;
    for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    r = this->get("/", many);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    r = this->get("/", "X-Big: " + std::string(17000, 'b') + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
}

// Files are looked up without being opened, then opened for reading: read permission
// is still checked, as the workers' user.
TYPED_TEST(Serving, UnreadableFileIs403SpecialFilesToo) {
    if (::geteuid() != 0) GTEST_SKIP() << "the workers drop to nobody only when started as root";
    this->server_->write("private.txt", "private");
    std::filesystem::permissions(this->server_->root() / "private.txt", std::filesystem::perms(0600));
    ASSERT_EQ(::mkfifo((this->server_->root() / "fifo").c_str(), 0666), 0);
    auto r = this->get("/private.txt");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    EXPECT_EQ(r->body.find("private"), std::string::npos);
    r = this->get("/fifo");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
}

TYPED_TEST(Http1Serving, AbsoluteFormTarget) {
    HttpClient client = this->connect();
    ASSERT_TRUE(client.send("GET http://example.com/hello.txt HTTP/1.1\r\nHost: example.com\r\n\r\n"));
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "hello\n");
}

// Many streams at once on one connection, of every kind, each answered on its own.
TYPED_TEST(H2Serving, ConcurrentStreamsOfEveryKind) {
    H2Client client(this->server_->port(), TypeParam::kTls ? std::optional(this->server_->client_tls()) : std::nullopt);
    ASSERT_TRUE(client.connected());
    std::vector<Request> requests;
    for (int i = 0; i < 60; ++i) {
        switch (i % 5) {
        case 0: requests.push_back({.target = "/hello.txt"}); break;
        case 1: requests.push_back({.method = "HEAD", .target = "/hello.txt"}); break;
        case 2: requests.push_back({.target = "/missing-" + std::to_string(i)}); break;
        case 3:
            requests.push_back({.target = "/big.bin", .fields = "Range: bytes=" + std::to_string(i) + "-99\r\n"});
            break;
        default: requests.push_back({.method = "POST", .target = "/", .body = std::string(1000, 'p')}); break;
        }
    }
    const auto responses = client.exchange(requests);
    const std::string big = pattern(10 << 20);
    for (int i = 0; i < 60; ++i) {
        SCOPED_TRACE(i);
        ASSERT_TRUE(responses[i]);
        const HttpResponse& r = *responses[i];
        const int kind = i % 5;
        const int want[] = {200, 200, 404, 206, 405};
        EXPECT_EQ(r.status, want[kind]);
        const std::string want_body[] = {"hello\n", "", "", big.substr(i, 100 - i), ""};
        if (kind != 2 && kind != 4) {
            EXPECT_TRUE(r.body == want_body[kind]);
        }
        if (kind == 1) {
            EXPECT_EQ(r.header("content-length"), "6");  // HEAD: the length, no body
        }
    }
    EXPECT_FALSE(client.goaway());
}

// A :path past both the URI and the field limits is still a HEAD answered 414 without
// a body, not a 431 for a request whose method was lost.
TYPED_TEST(H2Serving, AnOversizedPathIs414EvenPastTheFieldLimit) {
    H2Client client(this->server_->port(), TypeParam::kTls ? std::optional(this->server_->client_tls()) : std::nullopt);
    ASSERT_TRUE(client.connected());
    auto r = client.request({.method = "HEAD", .target = "/" + std::string(20000, 'a')});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 414);
    EXPECT_EQ(r->body, "");
    r = client.request({.target = "/hello.txt"});  // the connection goes on
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "hello\n");
}

// A Host beside :authority must name the same (RFC 9113 §8.3.1), in any case; one that
// names another makes the request malformed (h2_frames.py checks the stream error).
TYPED_TEST(H2Serving, AHostMatchingTheAuthorityInAllButCaseIsServed) {
    auto r = this->get("/hello.txt", "Host: TEST\r\n");  // the client's :authority is "test"
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

// Browsers send each cookie as its own field over HTTP/2 (RFC 9113 §8.2.3): they count
// as the one Cookie line they stand for, not against limits.max_headers one by one.
TYPED_TEST(H2Serving, CookieCrumbsCountAsOneFieldLine) {
    std::string crumbs;
    for (int i = 0; i < 150; ++i) crumbs += "Cookie: c" + std::to_string(i) + "=v\r\n";
    auto r = this->get("/hello.txt", crumbs);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    std::string fields;
    for (int i = 0; i < 150; ++i) fields += "X-F" + std::to_string(i) + ": v\r\n";
    r = this->get("/hello.txt", fields);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
}

}  // namespace
}  // namespace pywebd::test
