// The admin listener: /metrics parsed by Prometheus's own checker (promtool) while a load
// runs, counters that never go backwards across a reload and a worker killed, the
// request count equal to what the load client sent, each protocol's and TLS's series,
// and /healthz through start, serving and a graceful stop's drain.

#include <signal.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "conversation.hpp"
#include "load_clients.hpp"
#include "server_process.hpp"

namespace pywebd::test {
namespace {

using namespace std::chrono_literals;
using Samples = std::map<std::string, double>;

// The admin listener is the second socket passed by activation.
const char* kAdmin = "admin: \"127.0.0.1:{port1}\"\n";

HttpResponse admin_get(const ServerProcess& server, const std::string& path, const std::string& method = "GET") {
    HttpClient client(server.port(1));
    EXPECT_TRUE(client.connected());
    client.send(method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    auto response = client.read_response(method == "HEAD");
    EXPECT_TRUE(response) << path;
    return response.value_or(HttpResponse{});
}

// promtool's verdict on an exposition: its exit status and what it said.
RunResult promtool_check(const std::string& text) { return run_program({"promtool", "check", "metrics"}, 30s, text); }

Samples parse(const std::string& text) {
    Samples out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto space = line.rfind(' ');
        out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
}

// Scrapes, checks the text with promtool, and returns the samples.
Samples scrape(const ServerProcess& server) {
    const HttpResponse r = admin_get(server, "/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const RunResult check = promtool_check(r.body);
    EXPECT_EQ(check.status, 0) << check.output << "\n" << r.body;
    return parse(r.body);
}

bool is_counter(const std::string& series) {
    const std::string family = series.substr(0, series.find('{'));
    return family.ends_with("_total") || family.ends_with("_bucket") || family.ends_with("_count") ||
           family.ends_with("_sum");
}

// Every counter of `later` is at least what it was in `earlier`; none disappeared.
void expect_monotonic(const Samples& earlier, const Samples& later, const char* across) {
    for (const auto& [series, value] : earlier) {
        if (!is_counter(series)) continue;
        const auto it = later.find(series);
        ASSERT_NE(it, later.end()) << series << " vanished across " << across;
        EXPECT_GE(it->second, value) << series << " went backwards across " << across;
    }
}

const std::string kOk2xx = R"(pywebd_http_requests_total{protocol="http1",code="2xx"})";

// The count is made when the last byte is handed to the kernel, so a client may read its
// response a moment before: wait for it.
Samples scrape_until(const ServerProcess& server, const std::string& series, double expected) {
    Samples s;
    for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
        s = scrape(server);
        if (s[series] == expected) break;
        std::this_thread::sleep_for(50ms);
    }
    return s;
}

TEST(Metrics, PromtoolParsesEveryScrapeUnderLoadAndCountersNeverGoBackwards) {
    ServerProcess server({.yaml = kAdmin, .workers = 2, .sockets = 2, .h2c = true});
    server.write("index.html", "hello\n");
    LoadClients load(server.port(), "/index.html", {"hello\n"}, 3, 1);
    Samples previous = scrape(server);
    for (int i = 0; i < 5; ++i) {
        std::this_thread::sleep_for(100ms);
        const Samples now = scrape(server);
        expect_monotonic(previous, now, "a scrape under load");
        previous = now;
    }
    // A reload under load: a new generation, nothing lost.
    server.signal(SIGHUP);
    ASSERT_FALSE(server.wait_for_notification("last reload: ok").empty()) << server.error_log();
    Samples after_reload = scrape(server);
    expect_monotonic(previous, after_reload, "a reload");
    EXPECT_EQ(after_reload[R"(pywebd_config_reloads_total{result="ok"})"], 1);
    EXPECT_EQ(after_reload["pywebd_generation"], 2);
    std::this_thread::sleep_for(200ms);
    load.stop();
    EXPECT_EQ(load.failures(), 0u) << (load.failure_samples().empty() ? "" : load.failure_samples()[0]);
    ASSERT_GT(load.requests(), 0u);
    const auto sent = static_cast<double>(load.requests());
    const Samples loaded = scrape_until(server, kOk2xx, sent);
    EXPECT_EQ(loaded.at(kOk2xx), sent);  // the scrapes themselves are not counted
    EXPECT_EQ(loaded.at("pywebd_http_request_duration_seconds_count"), sent);
    EXPECT_EQ(loaded.at(R"(pywebd_http_response_body_bytes_total{protocol="http1"})"), sent * 6);
    EXPECT_GE(loaded.at("pywebd_connections_accepted_total"), 3);
    EXPECT_EQ(loaded.at("pywebd_workers_ready"), 2);

    // A worker killed: its replacement counts on in the same slot.
    const auto before_kill = server.workers();
    ASSERT_EQ(before_kill.size(), 2u);
    ::kill(before_kill[0], SIGKILL);
    ASSERT_EQ(server.wait_for_workers(2, {before_kill[0]}, 15s).size(), 2u);
    for (int i = 0; i < 20; ++i) ASSERT_EQ(server.get("/index.html")->status, 200);
    const Samples after_kill = scrape_until(server, kOk2xx, sent + 20);
    expect_monotonic(loaded, after_kill, "a worker killed");
    EXPECT_EQ(after_kill.at(kOk2xx), sent + 20);
    EXPECT_EQ(after_kill.at(R"(pywebd_worker_restarts_total{cause="killed"})"), 1);

    // An HTTP/2 connection error: nghttp2's GOAWAY is counted.
    HttpClient h2c(server.port());
    ASSERT_TRUE(h2c.connected());
    h2c.send(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string("\0\0\0\4\0\0\0\0\0", 9) +
             std::string("\0\0\0\0\0\0\0\0\0", 9));  // SETTINGS, then DATA on stream 0
    h2c.read_until_close();
    const Samples after_goaway = scrape(server);
    EXPECT_EQ(after_goaway.at("pywebd_http2_goaways_sent_total"), 1);
    EXPECT_EQ(WEXITSTATUS(server.stop()), 0);
}

TEST(Metrics, EachProtocolAndTlsHandshakeIsCounted) {
    ServerProcess server({.yaml = kAdmin, .workers = 1, .sockets = 2, .tls = true});
    server.write("hello.txt", "hello\n");
    SslSessionPtr session;
    for (int i = 0; i < 3; ++i) {
        HttpClient client(server.port(), server.client_tls());
        ASSERT_TRUE(client.connected()) << client.tls_error();
        ASSERT_EQ(client.get("/hello.txt")->status, 200);
        session = client.session();
    }
    ClientTls resuming = server.client_tls();
    resuming.session = session.get();
    HttpClient again(server.port(), resuming);
    ASSERT_TRUE(again.resumed());
    ASSERT_EQ(again.get("/missing")->status, 404);
    for (int i = 0; i < 2; ++i) ASSERT_EQ(fetch(server, true, {.target = "/hello.txt"})->status, 200);
    HttpClient broken(server.port());  // a ClientHello that does not parse
    ASSERT_TRUE(broken.connected());
    broken.send(std::string("\x16\x03\x01\x00\x08\x01\x00\x00\x04\xff\xff\xff\xff", 13));
    broken.read_until_close();
    ClientTls distrusting = server.client_tls();
    distrusting.server_name = "other.example";  // the certificate does not name it: the client gives up
    EXPECT_FALSE(HttpClient(server.port(), distrusting).connected());

    const Samples s = scrape_until(server, R"(pywebd_tls_handshakes_total{result="failed"})", 2);
    EXPECT_EQ(s.at(R"(pywebd_tls_handshakes_total{result="full"})"), 5);  // 3 HTTP/1.1 and 2 HTTP/2 connections
    EXPECT_EQ(s.at(R"(pywebd_tls_handshakes_total{result="resumed"})"), 1);
    EXPECT_EQ(s.at(R"(pywebd_tls_handshakes_total{result="failed"})"), 2);
    EXPECT_EQ(s.at(R"(pywebd_http_requests_total{protocol="http1",code="2xx"})"), 3);
    EXPECT_EQ(s.at(R"(pywebd_http_requests_total{protocol="http1",code="4xx"})"), 1);
    EXPECT_EQ(s.at(R"(pywebd_http_requests_total{protocol="http2",code="2xx"})"), 2);
    EXPECT_EQ(s.at("pywebd_http2_streams_total"), 2);
    EXPECT_EQ(s.at("pywebd_file_cache_hits_total") + s.at("pywebd_file_cache_misses_total"), 6);
    EXPECT_GE(s.at("pywebd_file_cache_hits_total"), 3);  // one worker: hello.txt is opened once
}

TEST(Metrics, CompressionCacheHitsAreCounted) {
    ServerProcess server({.yaml = kAdmin, .workers = 1, .sockets = 2});
    server.write("app.js", std::string(4096, 'a'));
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(server.get("/app.js", "Accept-Encoding: gzip\r\n")->header("content-encoding"), "gzip");
    const Samples s = scrape_until(server, kOk2xx, 3);
    EXPECT_EQ(s.at("pywebd_compression_cache_misses_total"), 1);
    EXPECT_EQ(s.at("pywebd_compression_cache_hits_total"), 2);
}

TEST(Admin, AnswersOnlyItsTwoPathsAndOnlyGetAndHead) {
    ServerProcess server({.yaml = kAdmin, .workers = 1, .sockets = 2});
    server.write("index.html", "site\n");
    EXPECT_EQ(admin_get(server, "/").status, 404);  // not the site
    EXPECT_EQ(admin_get(server, "/index.html").status, 404);
    const HttpResponse post = admin_get(server, "/metrics", "POST");
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.header("allow"), "GET, HEAD");
    const HttpResponse head = admin_get(server, "/healthz", "HEAD");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("content-length"), "3");
    EXPECT_EQ(head.body, "");
    const HttpResponse health = admin_get(server, "/healthz");
    EXPECT_EQ(health.body, "ok\n");
    EXPECT_EQ(health.header("cache-control"), "no-store");
    // The site's listener does not answer /metrics.
    EXPECT_EQ(server.get("/metrics")->status, 404);
    EXPECT_EQ(server.get("/index.html")->body, "site\n");
    const Samples s = scrape(server);
    EXPECT_EQ(s.at(R"(pywebd_http_requests_total{protocol="http1",code="4xx"})"), 1);  // the site's 404 alone
}

TEST(Admin, AnswersAtTheSiteConnectionLimitWithItsOwnErrorsAndNoAccessLog) {
    ServerProcess server({.yaml = std::string(kAdmin) + "limits: {max_connections: 2}\nerror_pages: {400: /400.html}\n"
                                                        "access_log: access.log\n",
                          .workers = 1,
                          .sockets = 2});
    server.write("400.html", "the site's own page\n");
    server.write("index.html", "site\n");
    // The site's two connections are taken; the admin listener still answers.
    HttpClient first(server.port()), second(server.port());
    ASSERT_TRUE(first.get("/index.html"));
    ASSERT_TRUE(second.get("/index.html"));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(admin_get(server, "/healthz").body, "ok\n");
    HttpClient third(server.port(), "127.0.0.1", 1s);  // queued, not served, while the two stay
    third.send("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_FALSE(third.read_response());
    // A request the admin listener cannot parse gets the built-in page, not the site's.
    HttpClient garbage(server.port(1));
    garbage.send("BREW /metrics HTCPCP/1.0\r\n\r\n");
    const auto bad = garbage.read_response();
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    EXPECT_EQ(bad->body.find("the site's own page"), std::string::npos);
    EXPECT_EQ(WEXITSTATUS(server.stop()), 0);
    std::ifstream log(server.dir().path() / "access.log");
    const std::string lines((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    EXPECT_NE(lines.find("GET /index.html"), std::string::npos) << lines;
    EXPECT_EQ(lines.find("/healthz"), std::string::npos) << lines;  // probes are not the site's traffic
}

// Bound by the master itself (not passed by systemd), on a port the kernel picks, and
// kept across a reload.
TEST(Admin, TheMasterBindsItAndKeepsItAcrossAReload) {
    ServerProcess server({.yaml = "admin: \"127.0.0.1:0\"\nlog_level: info\n", .workers = 1});
    ASSERT_TRUE(wait_for_log(server, "admin listening on 127.0.0.1:"));
    const std::string log = server.error_log();
    const auto at = log.find("admin listening on 127.0.0.1:") + std::string("admin listening on 127.0.0.1:").size();
    const auto port = static_cast<std::uint16_t>(std::stoi(log.substr(at)));
    const auto health = [&] {
        HttpClient client(port);
        client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        const auto r = client.read_response();
        return r ? r->body : "";
    };
    EXPECT_EQ(health(), "ok\n");
    server.signal(SIGHUP);
    ASSERT_FALSE(server.wait_for_notification("last reload: ok").empty());
    EXPECT_EQ(health(), "ok\n");
    EXPECT_EQ(server.error_log().find("admin listening on", at), std::string::npos);  // not bound again
    EXPECT_EQ(WEXITSTATUS(server.stop()), 0);
}

TEST(Admin, HealthIsUnavailableWhileDraining) {
    ServerProcess server(
        {.yaml = std::string(kAdmin) + "timeouts: {shutdown: 30s, send: 30s}\n", .workers = 1, .sockets = 2});
    server.write("big.bin", std::string(32 << 20, 'x'));
    EXPECT_EQ(admin_get(server, "/healthz").status, 200);
    // A download the client does not read keeps the worker draining.
    std::optional<HttpClient> slow(std::in_place, server.port());
    ASSERT_TRUE(slow->connected());
    slow->send("GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n");
    std::string first;
    ASSERT_TRUE(slow->receive(first));  // the response has begun
    server.signal(SIGTERM);
    ASSERT_FALSE(server.wait_for_notification("STOPPING=1").empty());
    HttpResponse during;
    for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
        during = admin_get(server, "/healthz");
        if (during.status == 503) break;
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(during.status, 503);
    EXPECT_EQ(during.body, "draining\n");
    EXPECT_EQ(during.header("connection"), "close");
    // Accepting on the admin listener alone, the draining worker sleeps between events.
    const auto workers = server.workers();
    ASSERT_EQ(workers.size(), 1u);
    EXPECT_LT(cpu_ticks_over(workers, 2s), 100);  // of 200 ticks: far from a busy loop
    slow.reset();                                 // closed with bytes unread: a reset, and the drain ends with it
    EXPECT_EQ(WEXITSTATUS(server.stop(SIGTERM, 40s)), 0);
}

}  // namespace
}  // namespace pywebd::test
