// What an operator configures per site, checked on the wire over every protocol
// (HTTP/1.1 plain and TLS, h2, h2c): a single-page app's fallback and redirects.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <thread>

#include "conversation.hpp"
#include "server_process.hpp"
#include "transports.hpp"

namespace pywebd::test {
namespace {

template <typename Transport>
class Sites : public testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = new ServerProcess(
            ServerOptions{.yaml = "fallback: /index.html\n"
                                  "headers:\n"
                                  "  - path: /index.html\n"
                                  "    cache_control: no-cache\n"
                                  "redirects:\n"
                                  "  - {from: /old-page, to: /new-page}\n"
                                  "  - {from: /moved, to: /elsewhere, status: 308, query: drop}\n"
                                  "  - {from: /docs/*, to: /manual/, status: 302}\n"
                                  "  - {from: /docs/v1/*, to: \"https://archive.example.org/v1/\", status: 307}\n"
                                  "  - {from: /go, to: \"/target?from=go\"}\n"
                                  "  - {from: /x/*, to: \"https://example.org\"}\n",
                          .tls = Transport::kTls,
                          .h2c = Transport::kH2 && !Transport::kTls});
        server_->write("index.html", "<div id=app></div>\n");
        server_->write("real.txt", "real\n");
        server_->write("empty-dir/.keep", "");
        server_->write("new-page", "new\n");
    }
    static void TearDownTestSuite() {
        EXPECT_EQ(WEXITSTATUS(server_->stop()), 0);
        EXPECT_EQ(server_->error_log().find("[error]"), std::string::npos) << server_->error_log();
        delete server_;
    }
    static HttpResponse request(Request r) {
        auto response = fetch(*server_, Transport::kH2, std::move(r));
        EXPECT_TRUE(response) << r.target;
        return response.value_or(HttpResponse{});
    }
    static HttpResponse get(const std::string& target, const std::string& fields = "") {
        return request({.target = target, .fields = fields});
    }
    static ServerProcess* server_;
};
template <typename Transport>
ServerProcess* Sites<Transport>::server_ = nullptr;
TYPED_TEST_SUITE(Sites, Protocols, TransportName);

TYPED_TEST(Sites, MissingRoutesGetTheFallbackAssetsStay404) {
    const HttpResponse index = this->get("/index.html");
    ASSERT_EQ(index.status, 200);
    struct Row {
        const char* target;
        int status;
    };
    const Row table[] = {
        {"/app/settings", 200},  {"/user/john.doe", 200},  // an extension that is no asset's
        {"/deep/link/", 200},    {"/a?q=1", 200},         {"/missing.js", 404},  {"/img/logo.PNG", 404},
        {"/fonts/x.woff2", 404}, {"/real.txt", 200},      {"/.git/config", 404},  // refused dotfiles are not "missing"
        {"/empty-dir/", 403},  // a directory without an index is not missing either
    };
    for (const Row& row : table) {
        SCOPED_TRACE(row.target);
        const HttpResponse r = this->get(row.target);
        EXPECT_EQ(r.status, row.status);
        if (row.status == 200 && std::string_view(row.target) != "/real.txt") {
            EXPECT_EQ(r.body, index.body);
            EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
            EXPECT_EQ(r.header("cache-control"), "no-cache");  // the fallback's own header rules
            EXPECT_EQ(r.header("etag"), index.header("etag"));
        }
    }
    EXPECT_EQ(this->get("/real.txt").body, "real\n");
    // Conditionals and HEAD work on the fallback as on the file itself.
    EXPECT_EQ(this->get("/app/x", "If-None-Match: " + index.header("etag") + "\r\n").status, 304);
    const HttpResponse head = this->request({.method = "HEAD", .target = "/app/x"});
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.body, "");
    EXPECT_EQ(head.header("content-length"), std::to_string(index.body.size()));
    EXPECT_EQ(this->request({.method = "POST", .target = "/app/x", .body = "x"}).status, 405);
}

TYPED_TEST(Sites, RedirectsMatrix) {
    struct Row {
        const char* target;
        int status;
        const char* location;
    };
    const Row table[] = {
        {"/old-page", 301, "/new-page"},
        {"/old-page?a=1&b=2", 301, "/new-page?a=1&b=2"},
        {"/old-page/", 200, nullptr},  // exact means exact: this one is a fallback route
        {"/moved?secret=1", 308, "/elsewhere"},
        {"/docs/", 302, "/manual/"},
        {"/docs/guide/intro.html?x", 302, "/manual/guide/intro.html?x"},
        {"/docs/v1/api", 307, "https://archive.example.org/v1/api"},  // the longer prefix wins
        {"/docs//evil.example/", 302, "/manual/evil.example/"},       // never a second host
        {"/go?q=1", 301, "/target?from=go&q=1"},
        {"/x/@evil.example/", 301, "https://example.org/@evil.example/"},  // the URL got its '/': same host
        {"/x/.evil.example", 301, "https://example.org/.evil.example"},
    };
    for (const Row& row : table) {
        SCOPED_TRACE(row.target);
        const HttpResponse r = this->get(row.target);
        EXPECT_EQ(r.status, row.status);
        if (row.location != nullptr) {
            EXPECT_EQ(r.header("location"), row.location);
        }
    }
    // The redirect comes first: the file behind it is not served, whatever the method.
    const HttpResponse head = this->request({.method = "HEAD", .target = "/old-page"});
    EXPECT_EQ(head.status, 301);
    EXPECT_EQ(head.body, "");
    EXPECT_EQ(this->request({.method = "POST", .target = "/moved", .body = "x"}).status, 308);
    EXPECT_EQ(this->get("/new-page").body, "new\n");
}

// Virtual hosts: the site by Host (:authority over HTTP/2) with ports, case, a trailing
// dot and wildcards; the top-level site for unknown names; over TLS, a site outside the
// connection's certificate (it covers localhost only) is 421.
template <typename Transport>
class VirtualHosts : public testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = new ServerProcess(
            ServerOptions{.yaml = "root: root\n"  // (the helper adds it only when no `root:` is in the text)
                                  "sites:\n"
                                  "  - names: [localhost, a.example, \"*.b.example\"]\n"
                                  "    root: site-a\n"
                                  "    headers: [{path: /, add: {X-Site: a}}]\n"
                                  "  - names: [c.example, 127.0.0.1]\n"
                                  "    root: site-c\n"
                                  "    fallback: /index.html\n",
                          .tls = Transport::kTls,
                          .h2c = Transport::kH2 && !Transport::kTls,
                          .before_start = [](const std::filesystem::path& dir) {
                              for (const char* site : {"site-a", "site-c"})
                                  std::filesystem::create_directory(dir / site);
                              std::ofstream(dir / "site-a/who.txt") << "a\n";
                              std::ofstream(dir / "site-c/who.txt") << "c\n";
                              std::ofstream(dir / "site-c/index.html") << "c app\n";
                          }});
        server_->write("who.txt", "default\n");
    }
    static void TearDownTestSuite() {
        EXPECT_EQ(WEXITSTATUS(server_->stop()), 0);
        delete server_;
    }
    static HttpResponse at(const std::string& authority, const std::string& target = "/who.txt") {
        auto r = fetch(*server_, Transport::kH2, {.target = target, .authority = authority});
        EXPECT_TRUE(r) << authority;
        return r.value_or(HttpResponse{});
    }
    static ServerProcess* server_;
};
template <typename Transport>
ServerProcess* VirtualHosts<Transport>::server_ = nullptr;
TYPED_TEST_SUITE(VirtualHosts, Protocols, TransportName);

TYPED_TEST(VirtualHosts, TheSiteByItsNameTheDefaultForOthers) {
    const bool tls = TypeParam::kTls;
    struct Row {
        const char* authority;
        const char* body;  // nullptr: 421 over TLS (the certificate covers localhost only)
    };
    const Row table[] = {
        {"localhost", "a\n"},
        {"LOCALHOST:8443", "a\n"},
        {"localhost.", "a\n"},
        {"a.example", nullptr},
        {"x.b.example", nullptr},
        {"y.x.b.example", nullptr},
        {"c.example", nullptr},
        {"b.example", "default\n"},  // a wildcard is not its bare domain
        {"unknown.example", "default\n"},
        {"[::1]:80", "default\n"},
        {"127.0.0.1:8443", "c\n"},    // an IP address name: over TLS the certificate's IP entry covers it
        {".localhost", "default\n"},  // an empty label names no site
    };
    for (const Row& row : table) {
        SCOPED_TRACE(row.authority);
        const HttpResponse r = this->at(row.authority);
        if (row.body == nullptr && tls) {
            EXPECT_EQ(r.status, 421);
            continue;
        }
        const std::string want = row.body != nullptr                              ? row.body
                                 : std::string_view(row.authority) == "c.example" ? "c\n"
                                                                                  : "a\n";
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, want);
        EXPECT_EQ(r.header("x-site"), want == "a\n" ? "a" : "");  // each site's own header rules
    }
    if (!tls) {  // the site's own fallback, not the default site's (which has none)
        EXPECT_EQ(this->at("c.example", "/route").body, "c app\n");
        EXPECT_EQ(this->at("unknown.example", "/route").status, 404);
    }
}

// What an unknown Host gets when the operator says so: 421 or 404 instead of the
// top-level site.
TEST(VirtualHostPolicy, UnknownHostsGet421Or404WhenConfigured) {
    for (const char* policy : {"421", "404"}) {
        ServerProcess server(ServerOptions{.yaml = std::string("root: root\nunknown_host: \"") + policy +
                                                   "\"\nsites:\n  - {names: [a.example], root: site-a}\n",
                                           .before_start = [](const std::filesystem::path& dir) {
                                               std::filesystem::create_directory(dir / "site-a");
                                               std::ofstream(dir / "site-a/who.txt") << "a\n";
                                           }});
        server.write("who.txt", "default\n");
        auto r = fetch(server, false, {.target = "/who.txt", .authority = "a.example"});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "a\n");
        r = fetch(server, false, {.target = "/who.txt", .authority = "other.example"});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, std::stoi(policy)) << policy;
        EXPECT_EQ(r->body.find("default"), std::string::npos);
    }
}

// A whole site moved to another origin (an old domain).
TEST(SiteRedirect, EveryRequestGoesToTheNewOriginWithPathAndQuery) {
    ServerProcess server(ServerOptions{.yaml = "redirect: {to: \"https://example.org\", status: 308}\n"});
    server.write("index.html", "old\n");
    for (const auto& [target, location] :
         std::vector<std::pair<std::string, std::string>>{{"/", "https://example.org/"},
                                                          {"/index.html", "https://example.org/index.html"},
                                                          {"/a/b?c=d", "https://example.org/a/b?c=d"},
                                                          {"//x.example/", "https://example.org/x.example/"}}) {
        const auto r = server.get(target);
        ASSERT_TRUE(r) << target;
        EXPECT_EQ(r->status, 308) << target;
        EXPECT_EQ(r->header("location"), location) << target;
    }
}

// etag: content gives identical files identical ETags on every server, whatever their
// inodes and mtimes (a build deployed to many machines); metadata ETags differ.
TEST(ContentEtags, IdenticalBytesGiveIdenticalTagsOnEveryServer) {
    const std::string yaml = "etag: content\ncache:\n  valid: 0s\n";
    ServerProcess one(ServerOptions{.yaml = yaml});
    ServerProcess two(ServerOptions{.yaml = yaml});
    ServerProcess metadata(ServerOptions{.yaml = "cache:\n  valid: 0s\n"});
    for (const ServerProcess* server : {&one, &two, &metadata}) {
        server->write("app.js", "console.log(1);\n");
        server->write("copy.js", "console.log(1);\n");
        server->write("app.js.gz", "GZIP");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // distinct mtimes for each server's files
    }
    const auto tag = [](const ServerProcess& server, const std::string& target, const std::string& fields = "") {
        const auto r = server.get(target, fields);
        EXPECT_TRUE(r && r->status == 200) << target;
        return r ? r->header("etag") : std::string();
    };
    const std::string etag = tag(one, "/app.js");
    EXPECT_EQ(etag.size(), 24u) << etag;  // "…22 base64url characters…"
    EXPECT_EQ(tag(two, "/app.js"), etag);
    EXPECT_EQ(tag(one, "/copy.js"), etag);
    EXPECT_NE(tag(one, "/app.js", "Accept-Encoding: gzip\r\n"), etag);  // the sibling's own bytes
    EXPECT_NE(tag(metadata, "/app.js"), tag(metadata, "/copy.js"));
    // A revalidation against another server of the fleet is a 304.
    const auto r = two.get("/copy.js", "If-None-Match: " + etag + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 304);
    // New bytes, a new tag.
    one.write("app.js", "console.log(2);\n");
    EXPECT_NE(tag(one, "/app.js"), etag);
}

// Bad values are refused with their position by `pywebd -t`, before anything runs.
TEST(SiteConfig, TestModeNamesTheBadValue) {
    TempDir dir;
    std::filesystem::create_directory(dir.path() / "root");
    const auto file =
        dir.write("server.yaml", "root: root\nredirects:\n  - {from: /a/*, to: /a/b/}\nfallback: /../x\n");
    const RunResult run = run_pywebd({"-t", "-c", file.string()});
    EXPECT_EQ(run.status, 1) << run.output;
    EXPECT_NE(run.output.find("server.yaml:3:5: redirects: redirects /a/* to itself (/a/b/)"), std::string::npos)
        << run.output;
    EXPECT_NE(run.output.find("server.yaml:4:11: fallback: fallback is a file under the root"), std::string::npos)
        << run.output;
}

}  // namespace
}  // namespace pywebd::test
