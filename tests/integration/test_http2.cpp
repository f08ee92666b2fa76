// HTTP/2 with real clients: curl, nghttp2's h2load, and frame-level scripts
// (h2_frames.py for RFC 9113 / RFC 7541 error cases, h2_floods.py for the published
// floods) against the real binary on loopback, over TLS (ALPN h2) and h2c.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <regex>
#include <thread>

#include "h2_client.hpp"
#include "server_process.hpp"

namespace pywebd::test {
namespace {

using namespace std::chrono_literals;

const std::string kScripts = std::string(PYWEBD_SOURCE_DIR) + "/tests/integration/";

// A TLS listener (first socket) and an h2c one (second).
ServerOptions both_listeners(const std::string& more = "", unsigned workers = 2) {
    return ServerOptions{.yaml =
                             "listen:\n  - {address: \"127.0.0.1:{port0}\", tls: true}\n"
                             "  - {address: \"127.0.0.1:{port1}\", h2c: true}\n" +
                             more,
                         .workers = workers,
                         .sockets = 2,
                         .tls = true};
}

std::string h2c_url(const ServerProcess& server, const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(server.port(1)) + path;
}

std::size_t occurrences(std::string_view text, std::string_view needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

std::string random_bytes(std::size_t n) {
    std::mt19937 generator(42);
    std::string out(n, '\0');
    for (char& c : out) c = static_cast<char>(generator());
    return out;
}

struct CurlResponse {
    int exit = -1;
    std::string version;  // "1.1", "2"
    int status = 0;
    std::map<std::string, std::string> fields;  // names lower-cased
    std::string body;
};

// One request with curl; `args` choose the protocol and add fields.
CurlResponse fetch(const ServerProcess& server, const std::string& url, std::vector<std::string> args,
                   bool tls = true) {
    const std::filesystem::path head = server.dir().path() / "curl.head";
    const std::filesystem::path body = server.dir().path() / "curl.body";
    std::vector<std::string> command = {"curl", "-sS", "--max-time", "20", "-D", head.string(), "-o", body.string()};
    if (tls)
        for (const std::string& arg : server.curl_args()) command.push_back(arg);
    command.insert(command.end(), args.begin(), args.end());
    command.push_back(url);
    CurlResponse out;
    out.exit = run_program(command, 30s).status;
    out.body = read_proc_file(body.string());
    std::istringstream lines(read_proc_file(head.string()));
    std::string line;
    std::getline(lines, line);
    std::smatch m;
    if (std::regex_search(line, m, std::regex(R"(^HTTP/([\d.]+) (\d{3}))"))) {
        out.version = m[1];
        out.status = std::stoi(m[2]);
    }
    while (std::getline(lines, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        value.erase(value.find_last_not_of("\r ") + 1);
        out.fields[name] = value;
    }
    std::filesystem::remove(head);
    std::filesystem::remove(body);
    return out;
}

TEST(Http2, CurlFetchesOverTlsAndH2cByteExact) {
    ServerProcess server(both_listeners());
    const std::string big = random_bytes(3 * 1024 * 1024 + 17);  // file ranges over many DATA frames
    server.write("big.bin", big);
    server.write("hello.txt", "hello\n");
    for (const char* path : {"/hello.txt", "/big.bin"}) {
        const CurlResponse tls = fetch(server, server.url(path), {"--http2"});
        ASSERT_EQ(tls.exit, 0) << path;
        EXPECT_EQ(tls.version, "2") << path;
        EXPECT_EQ(tls.status, 200) << path;
        EXPECT_TRUE(tls.body == (path == std::string("/big.bin") ? big : "hello\n")) << path;
        const CurlResponse h2c = fetch(server, h2c_url(server, path), {"--http2-prior-knowledge"}, false);
        ASSERT_EQ(h2c.exit, 0) << path;
        EXPECT_EQ(h2c.version, "2") << path;
        EXPECT_TRUE(h2c.body == (path == std::string("/big.bin") ? big : "hello\n")) << path;
    }
    // The h2c listener still speaks HTTP/1.1 to everyone else.
    const CurlResponse h1 = fetch(server, h2c_url(server, "/hello.txt"), {"--http1.1"}, false);
    EXPECT_EQ(h1.version, "1.1");
    EXPECT_EQ(h1.body, "hello\n");
}

// A client that keeps nghttp2's default 64 KiB windows acknowledges every 32 KiB it
// reads, per stream and per connection: on loopback that is thousands of WINDOW_UPDATE
// frames a second, which the flood limit must not take for a flood (they were earned
// by the DATA sent). Before, such a download was cut at about 16 MiB with GOAWAY.
TEST(Http2, AClientWithSmallWindowsDownloadsALargeFile) {
    ServerProcess server(both_listeners("log_level: info\n", 1));
    server.write("big.bin", "");
    std::filesystem::resize_file(server.write_path("big.bin"), 64u << 20);
    const RunResult run = run_program({"nghttp", "-n", "-s", h2c_url(server, "/big.bin")}, 120s);
    EXPECT_TRUE(std::regex_search(run.output, std::regex(R"( 200 +64M /big\.bin)"))) << run.output;
    EXPECT_EQ(server.error_log().find("flooding"), std::string::npos) << server.error_log();
}

TEST(Http2, H2cIsOffUnlessTheListenerSaysSo) {
    ServerProcess server;
    server.write("hello.txt", "hello\n");
    const CurlResponse h2c = fetch(server, server.url("/hello.txt"), {"--http2-prior-knowledge"}, false);
    EXPECT_NE(h2c.exit, 0) << "HTTP/2 with prior knowledge on a listener without h2c";
    EXPECT_NE(h2c.version, "2");
    const CurlResponse h1 = fetch(server, server.url("/hello.txt"), {}, false);
    EXPECT_EQ(h1.status, 200);
}

// Each worker draws its own multipart boundary: compared as one.
std::string same_boundary(const std::string& text) {
    return std::regex_replace(text, std::regex("pywebd-[0-9a-f]+"), "pywebd-BOUNDARY");
}

// The same handler answers both protocols: the same status, fields and body for
// conditionals, ranges, HEAD, errors and OPTIONS; HTTP/2 has no Connection field.
TEST(Http2, TheSameAnswersAsHttp11) {
    ServerProcess server(both_listeners());
    server.write("page.html", "<p>page</p>\n");
    server.write("dir/index.html", "index\n");
    const CurlResponse first = fetch(server, server.url("/page.html"), {"--http2"});
    ASSERT_EQ(first.status, 200);
    const std::string etag = first.fields.at("etag");
    const std::vector<std::vector<std::string>> cases = {
        {"/page.html"},
        {"/page.html", "-H", "If-None-Match: " + etag},
        {"/page.html", "-H", "Range: bytes=1-3"},
        {"/page.html", "-H", "Range: bytes=0-1,4-5"},
        {"/page.html", "-I"},
        {"/missing"},
        {"/page.html", "-X", "POST"},
        {"/page.html", "-X", "OPTIONS"},
        {"/dir"},
        {"/../etc/passwd", "--path-as-is"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> args(c.begin() + 1, c.end());
        std::vector<std::string> h1_args = args, h2_args = args;
        h1_args.push_back("--http1.1");
        h2_args.push_back("--http2");
        const CurlResponse h1 = fetch(server, server.url(c[0]), h1_args);
        const CurlResponse h2 = fetch(server, server.url(c[0]), h2_args);
        SCOPED_TRACE(testing::PrintToString(c));
        EXPECT_EQ(h2.version, "2");
        EXPECT_EQ(h1.status, h2.status);
        if (std::find(c.begin(), c.end(), "-I") == c.end()) {  // with -I the head is the body
            EXPECT_EQ(same_boundary(h1.body), same_boundary(h2.body));
        }
        for (const char* name : {"content-type", "content-length", "content-range", "etag", "last-modified", "allow",
                                 "location", "accept-ranges", "cache-control"})
            EXPECT_EQ(same_boundary(h1.fields.count(name) ? h1.fields.at(name) : ""),
                      same_boundary(h2.fields.count(name) ? h2.fields.at(name) : ""))
                << name;
        EXPECT_EQ(h2.fields.count("connection"), 0u);
    }
}

std::string h2load(const std::vector<std::string>& args) {
    std::vector<std::string> command = {"h2load"};
    command.insert(command.end(), args.begin(), args.end());
    const RunResult r = run_program(command, 120s);
    return r.output;
}

TEST(Http2, ManyStreamsOnFewConnectionsAllSucceed) {
    ServerProcess server(both_listeners("access_log: access.log\n"));
    std::vector<std::string> tls_args = {"-n", "4000", "-c", "4", "-m", "50"};
    std::vector<std::string> h2c_args = tls_args;
    for (int i = 0; i < 20; ++i) {
        server.write("a" + std::to_string(i) + ".txt", "asset " + std::to_string(i) + "\n");
        tls_args.push_back("https://127.0.0.1:" + std::to_string(server.port()) + "/a" + std::to_string(i) + ".txt");
        h2c_args.push_back(h2c_url(server, "/a" + std::to_string(i) + ".txt"));
    }
    for (const auto& args : {tls_args, h2c_args}) {
        const std::string out = h2load(args);
        EXPECT_NE(out.find("4000 total, 4000 started, 4000 done, 4000 succeeded, 0 failed, 0 errored"),
                  std::string::npos)
            << out;
        EXPECT_NE(out.find("status codes: 4000 2xx"), std::string::npos) << out;
    }
    ASSERT_EQ(WEXITSTATUS(server.stop()), 0);
    // One access-log line per stream, as HTTP/2.0.
    const std::string log = read_proc_file((server.dir().path() / "access.log").string());
    EXPECT_EQ(occurrences(log, "HTTP/2.0\" 200 "), 8000u);
}

TEST(Http2, FrameLevelErrorsGetTheCodesTheRfcsName) {
    ServerProcess server(both_listeners("timeouts:\n  keepalive: 2s\n"));
    server.write("hello.txt", "hello\n");
    const std::vector<pid_t> workers = server.wait_for_workers(2, {}, 15s);
    const RunResult run =
        run_program({"python3", kScripts + "h2_frames.py", std::to_string(server.port(1)), "2"}, 300s);
    std::cout << run.output;
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(server.workers(), workers);  // no worker crashed or was replaced
    const std::string log = server.error_log();
    EXPECT_NE(log.find("HTTP/2 protocol error"), std::string::npos) << log;
    EXPECT_EQ(log.find("\n2026 [crit] forged"), std::string::npos) << "a client's bytes forged a log line";
    EXPECT_EQ(log.find('\x1b'), std::string::npos) << "a client's terminal escape reached the log";
}

// Each flood ends the attacker's connection with GOAWAY ENHANCE_YOUR_CALM (or the
// timer, for a reader that opens no window) while a normal client on the same worker
// keeps a median under 10 ms; the worker is never replaced.
TEST(Http2, FloodsEndTheAttackerNotTheService) {
    ServerProcess server(both_listeners("timeouts:\n  keepalive: 2s\n  send: 2s\n", 1));
    server.write("hello.txt", "hello\n");
    server.write("big.bin", std::string(4 * 1024 * 1024, 'b'));
    const std::vector<pid_t> workers = server.wait_for_workers(1, {}, 15s);
    const RunResult run =
        run_program({"python3", kScripts + "h2_floods.py", std::to_string(server.port(1)), "2"}, 600s);
    std::cout << run.output;
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(server.workers(), workers);
    const std::string log = server.error_log();
    EXPECT_TRUE(std::regex_search(log, std::regex(R"(\[info\].*HTTP/2 client flooding conn=\d+ peer=127\.0\.0\.1: )")))
        << log;
}

// Past the bomb threshold nghttp2 stops handing each reference to us to check and
// copy: one 28 KB block that decodes to 48 MB costs the worker next to nothing.
TEST(Http2, AnHpackBombCostsTheWorkerLittleCpu) {
    ServerProcess server(both_listeners("", 1));
    const std::vector<pid_t> workers = server.wait_for_workers(1, {}, 15s);
    ASSERT_EQ(workers.size(), 1u);
    const long before = cpu_ticks(workers[0]);
    const RunResult run = run_program(
        {"python3", kScripts + "h2_floods.py", std::to_string(server.port(1)), "10", "bomb-blocks", "50"}, 120s);
    const long used = cpu_ticks(workers[0]) - before;
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_LT(used, 20) << "clock ticks of the worker for 50 bomb blocks";
}

// A header block begun and never finished holds the connection no longer than
// timeouts.header, as an HTTP/1.1 head does (not the far longer timeouts.send).
TEST(Http2, AnUnfinishedHeaderBlockEndsAtTheHeaderTimeout) {
    ServerProcess server(both_listeners("timeouts:\n  header: 1s\n  send: 60s\n", 1));
    HttpClient client(server.port(1), "127.0.0.1", 30s);
    ASSERT_TRUE(client.connected());
    const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const std::string settings("\0\0\0\x04\0\0\0\0\0", 9);
    // HEADERS on stream 1, END_STREAM but no END_HEADERS: GET http /, then nothing.
    const std::string headers("\0\0\x03\x01\x01\0\0\0\x01\x82\x86\x84", 12);
    ASSERT_TRUE(client.send(preface + settings + headers));
    EXPECT_TRUE(wait_for_log(server, "HTTP/2 request head not completed within timeouts.header", 20s))
        << server.error_log();
    client.read_until_close();  // and the connection is closed
    EXPECT_TRUE(client.closed_by_server(1s));
}

// A stream waiting behind the one its priority puts first (as browsers chain their
// requests) is not reset as stalled while that one downloads slowly for several stall
// periods; a stream whose window the client keeps shut still is (FloodsEndTheAttacker…).
TEST(Http2, AStreamWaitingItsTurnIsNotResetAsStalled) {
    ServerProcess server(both_listeners("timeouts:\n  send: 2s\n", 1));
    server.write("big.bin", std::string(12 << 20, 'b'));
    server.write("small.txt", std::string(5000, 's'));
    const RunResult run = run_program({"python3", kScripts + "h2_frames.py", std::to_string(server.port(1)),
                                       "dependent-stream", "/big.bin", std::to_string(12 << 20), "/small.txt", "5000"},
                                      120s);
    std::cout << run.output;
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(server.error_log().find("send_timeout"), std::string::npos) << server.error_log();
}

// The header timer must neither be a way to silence the stall watch (a request split
// across two reads on a connection whose other stream the client never lets move) nor
// cut a client whose every read ends inside its next request's header block.
TEST(Http2, SplitHeaderBlocksNeitherSilenceTheStallWatchNorMeetTheHeaderTimeout) {
    ServerProcess server(both_listeners("timeouts:\n  send: 2s\n  header: 2s\n", 1));
    server.write("hello.txt", "hello\n");
    server.write("big.bin", std::string(1 << 20, 'b'));
    for (const std::vector<std::string>& mode :
         {std::vector<std::string>{"split-heads-pin", "/big.bin"}, std::vector<std::string>{"back-to-back-heads"}}) {
        std::vector<std::string> args = {"python3", kScripts + "h2_frames.py", std::to_string(server.port(1))};
        args.insert(args.end(), mode.begin(), mode.end());
        const RunResult run = run_program(args, 120s);
        std::cout << run.output;
        EXPECT_EQ(run.status, 0) << run.output;
    }
}

TEST(Http2, OversizedRequestFieldsGet431) {
    ServerProcess server(both_listeners("http2:\n  max_header_list_size: 4KiB\n"));
    server.write("hello.txt", "hello\n");
    const CurlResponse big =
        fetch(server, server.url("/hello.txt"), {"--http2", "-H", "X-Big: " + std::string(6000, 'b')});
    EXPECT_EQ(big.version, "2");
    EXPECT_EQ(big.status, 431);
    const CurlResponse fine =
        fetch(server, server.url("/hello.txt"), {"--http2", "-H", "X-Big: " + std::string(3000, 'b')});
    EXPECT_EQ(fine.status, 200);
}

// curl, like a browser, retries what a GOAWAY says was not processed: batches of 2000
// requests over HTTP/2 (20 in parallel on shared connections) run back to back from
// before the first of two reloads until after the second; every request succeeds.
TEST(Http2, ReloadsUnderLoadFailNoRequest) {
    ServerProcess server(both_listeners());
    for (int i = 0; i < 20; ++i) server.write("a" + std::to_string(i) + ".txt", "asset\n");
    const std::vector<pid_t> first = server.wait_for_workers(2, {}, 15s);
    std::atomic<bool> reloaded{false};
    std::atomic<int> batches{0};
    std::size_t requests = 0, ok = 0;
    std::string failed;
    std::atomic<bool> started{false};
    std::thread client([&] {
        std::vector<std::string> args = {"curl",
                                         "-sS",
                                         "--no-progress-meter",
                                         "--http2",
                                         "-Z",
                                         "--parallel-max",
                                         "20",
                                         "-o",
                                         "/dev/null",
                                         "-w",
                                         "%{http_code} %{http_version}\\n"};
        for (const std::string& arg : server.curl_args()) args.push_back(arg);
        args.push_back(server.url("/a[0-19].txt?n=[1-100]"));
        for (bool last = false; !last; ++batches) {
            last = reloaded;  // one more batch after the reloads
            started = true;
            const RunResult batch = run_program(args, 120s);
            std::istringstream lines(batch.output);
            for (std::string line; std::getline(lines, line); ++requests)
                if (line == "200 2")
                    ++ok;
                else if (failed.size() < 2000)
                    failed += line + "\n";
        }
    });
    while (!started) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(50ms);  // the client's first connections are open
    server.signal(SIGHUP);
    const auto second = server.wait_for_workers(2, first, 15s);
    server.signal(SIGHUP);
    server.wait_for_workers(2, second, 15s);
    reloaded = true;
    client.join();
    EXPECT_GE(batches.load(), 2);
    EXPECT_EQ(requests % 2000, 0u);
    EXPECT_EQ(ok, requests) << failed;
    // The reloads came while HTTP/2 connections were open: old workers drained some.
    EXPECT_TRUE(std::regex_search(server.error_log(), std::regex(R"(worker draining slot=\d+ open=[1-9])")))
        << server.error_log();
}

// A real browser: Debian's chromium, headless, with the test CA in its certificate
// store, loads a page of 100 scripts over HTTPS. Every script runs, and the browser's
// own performance entries say each came over h2, the page too.
TEST(Http2, ABrowserLoadsAPageOfAHundredAssetsOverH2) {
    ASSERT_EQ(run_program({"chromium", "--version"}, 60s).status, 0)
        << "chromium is not installed: apt-get install chromium libnss3-tools (make test installs them)";
    ServerProcess server(ServerOptions{.yaml = "access_log: access.log\n", .tls = true});
    std::string page = "<!doctype html><html><head><title>assets</title>\n";
    for (int i = 0; i < 100; ++i) {
        const std::string name = "assets/a" + std::to_string(i) + ".js";
        server.write(name, "window.loaded = (window.loaded || 0) + 1;\n");
        page += "<script src=\"/" + name + "\"></script>\n";
    }
    page += R"(</head><body><script>
window.addEventListener("load", () => {
  const resources = performance.getEntriesByType("resource");
  const page = performance.getEntriesByType("navigation")[0];
  document.body.textContent = "RESULT " + JSON.stringify({
    loaded: window.loaded, resources: resources.length,
    h2: resources.filter(e => e.nextHopProtocol === "h2").length, page: page.nextHopProtocol});
});
</script></body></html>
)";
    server.write("index.html", page);
    // A home of its own, whose NSS store trusts the test CA (and nothing else of ours).
    const std::filesystem::path home = server.dir().path() / "home";
    const std::string nssdb = "sql:" + (home / ".pki/nssdb").string();
    std::filesystem::create_directories(home / ".pki/nssdb");
    ASSERT_EQ(run_program({"certutil", "-d", nssdb, "-N", "--empty-password"}, 60s).status, 0);
    ASSERT_EQ(run_program({"certutil", "-d", nssdb, "-A", "-t", "C,,", "-n", "pywebd-test-ca", "-i",
                           server.client_tls().ca_file.string()},
                          60s)
                  .status,
              0);
    const RunResult run =
        run_program({"env", "HOME=" + home.string(), "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                     "--no-first-run", "--user-data-dir=" + (home / "profile").string(),
                     "--host-resolver-rules=MAP localhost 127.0.0.1", "--virtual-time-budget=30000", "--dump-dom",
                     server.url("/index.html")},
                    180s);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(run.output, m, std::regex(R"re(RESULT (\{[^}]*\}))re")))
        << run.output.substr(0, 3000);
    const std::string result = m[1];
    std::cout << "chromium: " << result << std::endl;
    EXPECT_NE(result.find("\"loaded\":100,"), std::string::npos) << result;
    EXPECT_NE(result.find("\"resources\":100,"), std::string::npos) << result;
    EXPECT_NE(result.find("\"h2\":100,"), std::string::npos) << result;
    EXPECT_NE(result.find("\"page\":\"h2\""), std::string::npos) << result;
    ASSERT_EQ(WEXITSTATUS(server.stop()), 0);
    const std::string log = read_proc_file((server.dir().path() / "access.log").string());
    EXPECT_GE(occurrences(log, " HTTP/2.0\" 200 "), 101u)
        << log.substr(0, 2000);  // the page and its 100 scripts (and perhaps a favicon try)
}

// A graceful stop lets a download over HTTP/2 finish: the client reads one window at a
// time, the server is stopped once the first DATA frame arrives, and the stream still
// ends whole, followed by GOAWAY NO_ERROR.
// The keep-alive timeout counts from the last response, as over HTTP/1.1: a connection
// that keeps asking is never told to go away.
TEST(Http2, ABusyConnectionOutlivesTheKeepAliveTimeout) {
    ServerProcess server(both_listeners("timeouts:\n  keepalive: 2s\n"));
    server.write("hello.txt", "hello\n");
    H2Client client(server.port(1));
    ASSERT_TRUE(client.connected());
    const auto start = std::chrono::steady_clock::now();
    int answered = 0;
    while (std::chrono::steady_clock::now() - start < 5s) {  // two and a half timeouts
        const auto r = client.request({.target = "/hello.txt"});
        ASSERT_TRUE(r) << "request " << answered << " after " << (std::chrono::steady_clock::now() - start) / 1ms
                       << " ms";
        ASSERT_EQ(r->body, "hello\n");
        ++answered;
        std::this_thread::sleep_for(300ms);
        EXPECT_FALSE(client.goaway()) << "GOAWAY after " << answered << " requests";
    }
    std::this_thread::sleep_for(200ms);
    H2Client idle(server.port(1));  // and an idle one still gets its GOAWAY
    ASSERT_TRUE(idle.connected());
    ASSERT_TRUE(idle.request({.target = "/hello.txt"}));
    EXPECT_TRUE(idle.wait_for_goaway(15s));
}

TEST(Http2, AGracefulStopFinishesTheStreamsInFlight) {
    ServerProcess server(both_listeners("timeouts:\n  keepalive: 1s\n", 1));
    const std::size_t size = 4 * 1024 * 1024;
    server.write("big.bin", std::string(size, 'b'));
    const RunResult run =
        run_program({"python3", kScripts + "h2_frames.py", std::to_string(server.port(1)), "download-through-stop",
                     std::to_string(server.pid()), "/big.bin", std::to_string(size)},
                    120s);
    std::cout << run.output;
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(WEXITSTATUS(server.stop()), 0);
}

}  // namespace
}  // namespace pywebd::test
