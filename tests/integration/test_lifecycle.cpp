// Zero-downtime operations: reload, graceful stop, log reopen, crash loops, and the
// exact sd_notify protocol, against the real binary.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "http_client.hpp"
#include "load_clients.hpp"
#include "server_process.hpp"

namespace pywebd::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string config_for(const std::string& root, unsigned workers, const std::string& extra = "") {
    return "root: " + root + "\nworkers: " + std::to_string(workers) + "\nerror_log: error.log\nlog_level: info\n" +
           user_line() + extra;
}

// Reloads and waits for the outcome: the READY=1 that ends it. Returns what was seen.
std::vector<std::string> reload(ServerProcess& server) {
    server.signal(SIGHUP);
    return server.wait_for_notification("READY=1", 20s);
}

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += "[" + l + "] ";
    return out;
}

TEST(Notify, ExactSequenceForStartReloadFailedReloadAndStop) {
    ServerProcess server;
    ASSERT_EQ(server.startup_notifications().size(), 1u);
    EXPECT_EQ(server.startup_notifications()[0], "READY=1\nSTATUS=generation 1, 2 workers, last reload: none");

    server.dir().write("root2/index.html", "two");
    server.write_config(config_for("root2", 1));
    auto seen = reload(server);
    ASSERT_EQ(seen.size(), 2u) << join(seen);
    EXPECT_TRUE(
        std::regex_match(seen[0], std::regex("RELOADING=1\nMONOTONIC_USEC=\\d+\nSTATUS=reloading configuration")))
        << seen[0];
    EXPECT_EQ(seen[1], "READY=1\nSTATUS=generation 2, 1 workers, last reload: ok (generation 2)");
    EXPECT_EQ(http_get(server.port(), "/")->body, "two");

    server.write_config("root: root2\nport: eighty\n" + user_line());
    seen = reload(server);
    ASSERT_EQ(seen.size(), 2u) << join(seen);
    EXPECT_EQ(seen[0].rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u);
    EXPECT_TRUE(std::regex_match(
        seen[1], std::regex("READY=1\nSTATUS=generation 2, 1 workers, last reload: failed: .*server\\.yaml:2:7: "
                            "port: expected a whole number, got 'eighty'")))
        << seen[1];
    EXPECT_EQ(http_get(server.port(), "/")->body, "two");  // the old configuration serves on
    EXPECT_TRUE(
        std::regex_search(server.error_log(), std::regex(R"(\[error\].*reload failed: .*server\.yaml:2:7: port)")));

    server.signal(SIGTERM);
    seen = server.wait_for_notification("STOPPING=1", 10s);
    ASSERT_EQ(seen.size(), 1u) << join(seen);
    EXPECT_EQ(seen[0], "STOPPING=1\nSTATUS=stopping: draining connections");
    EXPECT_EQ(WEXITSTATUS(server.stop(0)), 0);
    EXPECT_FALSE(server.next_notification(200ms));  // nothing after STOPPING
}

TEST(Reload, ChangesRootWorkersAndLimitsWithTheSameMaster) {
    ServerProcess server;
    server.write("index.html", "one");
    const pid_t master = server.pid();
    const auto old_workers = server.workers();
    server.dir().write("root2/index.html", "two");
    server.write_config(config_for("root2", 3, "index: [index.html]\nlimits:\n  max_uri_bytes: 100\n"));
    const auto seen = reload(server);
    ASSERT_NE(seen.back().find("last reload: ok"), std::string::npos) << join(seen);
    EXPECT_EQ(server.pid(), master);
    EXPECT_EQ(http_get(server.port(), "/")->body, "two");
    EXPECT_EQ(http_get(server.port(), "/" + std::string(150, 'a'))->status, 414);
    const auto now = server.wait_for_workers(3, old_workers, 5s);
    EXPECT_EQ(now.size(), 3u);
}

TEST(Reload, MovesToANewPortAndClosesTheOld) {
    ServerProcess server(ServerOptions{.yaml = "listen: [\"127.0.0.1:0\"]\n", .socket_activation = false});
    server.write("index.html", "x");
    std::smatch m;
    const std::string log = server.error_log();
    ASSERT_TRUE(std::regex_search(log, m, std::regex(R"(listening on 127\.0\.0\.1:(\d+))")));
    const auto old_port = static_cast<std::uint16_t>(std::stoi(m[1]));
    // Any free port for the new address: bind one, note it, release it.
    std::uint16_t new_port;
    {
        ServerProcess probe;  // a socket-activated server holds a free port; borrow its number
        new_port = probe.port();
    }
    server.write_config(config_for("root", 2, "listen: [\"127.0.0.1:" + std::to_string(new_port) + "\"]\n"));
    const auto seen = reload(server);
    ASSERT_NE(seen.back().find("last reload: ok"), std::string::npos) << join(seen);
    auto r = http_get(new_port, "/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "x");
    // Once the old generation has drained, the old address is closed.
    const auto deadline = Clock::now() + 5s;
    bool refused = false;
    while (!refused && Clock::now() < deadline) {
        refused = !HttpClient(old_port).connected();
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(refused);
}

// Twenty reloads alternating two roots while keep-alive and per-request clients run.
void reload_under_load(bool with_invalid_config) {
    const std::string body_a = std::string(20000, 'A') + "\n";
    const std::string body_b = std::string(30000, 'B') + "\n";
    ServerProcess server(ServerOptions{.yaml = config_for("root", 2)});
    server.write("file.txt", body_a);
    server.dir().write("root_b/file.txt", body_b);
    LoadClients load(server.port(), "/file.txt", {body_a, body_b}, 4, 4);
    int reloads = 0, failed_reloads = 0;
    for (int i = 0; i < 20; ++i) {
        const bool invalid = with_invalid_config && i == 10;
        if (invalid)
            server.write_config("root: root\nworkers: none\n" + user_line());
        else
            server.write_config(config_for(i % 2 == 0 ? "root_b" : "root", i % 3 == 0 ? 3 : 2));
        const auto seen = reload(server);
        ASSERT_FALSE(seen.empty());
        const bool ok = seen.back().find("last reload: ok") != std::string::npos;
        EXPECT_EQ(ok, !invalid) << join(seen);
        ++reloads;
        failed_reloads += ok ? 0 : 1;
        std::this_thread::sleep_for(100ms);
    }
    std::this_thread::sleep_for(300ms);
    load.stop();
    std::cout << "reload under load: reloads=" << reloads << " failed_reloads=" << failed_reloads
              << " requests=" << load.requests() << " failures=" << load.failures() << std::endl;
    testing::Test::RecordProperty("requests", static_cast<int>(load.requests()));
    testing::Test::RecordProperty("failures", static_cast<int>(load.failures()));
    EXPECT_EQ(load.failures(), 0u) << join(load.failure_samples());
    EXPECT_GT(load.requests(), 200u);
    // One live generation at the end.
    const auto workers = server.wait_for_workers(with_invalid_config ? 2 : 2, {}, 15s);
    EXPECT_EQ(workers.size(), 2u);
    EXPECT_EQ(server.error_log().find("[crit]"), std::string::npos);
}

TEST(Reload, UnderLoadNoRequestFails) { reload_under_load(false); }
TEST(Reload, UnderLoadWithAnInvalidConfigInTheMiddle) { reload_under_load(true); }

// Out of descriptors while forking a new generation (a channel per worker): the reload
// fails like a failed fork, and the master and the old generation serve on.
TEST(Reload, RunningOutOfDescriptorsFailsTheReloadNotTheMaster) {
    ServerProcess server(ServerOptions{.workers = 1, .nofile = 14});
    server.write("index.html", "x");
    const pid_t master = server.pid();
    server.write_config(config_for("root", 12));
    auto seen = reload(server);
    ASSERT_FALSE(seen.empty()) << server.error_log();
    EXPECT_NE(seen.back().find("last reload: failed"), std::string::npos) << join(seen);
    const auto r = http_get(server.port(), "/");
    ASSERT_TRUE(r) << server.error_log();
    EXPECT_EQ(r->body, "x");
    EXPECT_TRUE(
        std::regex_search(server.error_log(), std::regex(R"(\[error\].*(channel|fork).*(Too many open files))")))
        << server.error_log();
    EXPECT_EQ(server.wait_for_workers(1, {}, 10s).size(), 1u);  // the partial new generation is gone
    server.write_config(config_for("root", 2));
    seen = reload(server);
    ASSERT_FALSE(seen.empty());
    EXPECT_NE(seen.back().find("last reload: ok"), std::string::npos) << join(seen);
    EXPECT_EQ(server.pid(), master);
    EXPECT_EQ(server.stop(), 0);
}

TEST(Reload, TenSighupsInARowLeaveOneGeneration) {
    ServerProcess server(ServerOptions{.workers = 2});
    server.write("index.html", "x");
    for (int i = 0; i < 10; ++i) server.signal(SIGHUP);
    // Signals coalesce; each reload that does run ends in READY=1. Wait until quiet.
    while (server.next_notification(1500ms)) {}
    const auto workers = server.wait_for_workers(2, {}, 15s);
    EXPECT_EQ(workers.size(), 2u);
    EXPECT_EQ(http_get(server.port(), "/")->body, "x");
    const std::string log = server.error_log();
    EXPECT_NE(log.find("reload complete"), std::string::npos);
}

// Blocks until `fd` has bytes to read (the server has started answering), up to 10 s.
bool wait_readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 10000) == 1;
}

TEST(GracefulStop, DownloadInProgressCompletesByteExact) {
    std::string big(10 << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
    ServerProcess server(ServerOptions{.yaml = "timeouts:\n  shutdown: 8s\n"});
    server.write("big.bin", big);
    HttpClient client(server.port());
    ASSERT_TRUE(client.send("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(wait_readable(client.fd()));  // the response has begun; the rest waits for us
    const auto workers = server.workers();
    const auto stopped_at = Clock::now();
    server.signal(SIGTERM);
    ASSERT_TRUE(wait_for_log(server, "worker draining", 10s));  // the drain has begun, the body is unread
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->body == big);
    const int status = server.stop(0, 10s);
    EXPECT_LT(Clock::now() - stopped_at, 8s + 1s);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    for (pid_t p : workers) EXPECT_NE(::kill(p, 0), 0);
    EXPECT_NE(server.error_log().find("worker drained"), std::string::npos);
}

TEST(GracefulStop, KeptAliveRequestDuringDrainGetsClose) {
    ServerProcess server(ServerOptions{.workers = 1});
    server.write("a.txt", "a");
    HttpClient client(server.port());
    ASSERT_TRUE(client.get("/a.txt"));
    server.signal(SIGQUIT);
    // Requests on the kept-alive connection go on until the drain shows: the first one
    // answered after it carries "Connection: close", and the server then closes.
    std::optional<HttpResponse> r;
    const auto deadline = Clock::now() + 10s;
    do {
        r = client.get("/a.txt");
        ASSERT_TRUE(r) << "the connection was dropped instead of answered";
        EXPECT_EQ(r->status, 200);
    } while (r->header("connection") != "close" && Clock::now() < deadline);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(client.closed_by_server());
}

TEST(GracefulStop, IdleConnectionsDoNotHoldItUp) {
    ServerProcess server(ServerOptions{.yaml = "timeouts:\n  shutdown: 20s\n"});
    server.write("a.txt", "a");
    std::vector<std::unique_ptr<HttpClient>> idle;
    for (int i = 0; i < 8; ++i) {
        idle.push_back(std::make_unique<HttpClient>(server.port()));
        ASSERT_TRUE(idle.back()->get("/a.txt"));
    }
    const auto started = Clock::now();
    EXPECT_EQ(WEXITSTATUS(server.stop(SIGTERM, 10s)), 0);
    EXPECT_LT(Clock::now() - started, 4s);  // a grace second, not the 20 s shutdown timeout
}

std::vector<std::string> lines_of(const std::filesystem::path& path);

// The worker keeps the drain deadline itself and exits on its own at it, with every
// line of its access log written, the aborted response included; the master's SIGKILL
// is only for a worker that does not.
TEST(GracefulStop, StuckClientIsCutAtShutdownTimeoutAndEverythingIsLogged) {
    ServerProcess server(ServerOptions{.yaml = "timeouts:\n  shutdown: 1s\naccess_log: access.log\n"});
    server.write("a.txt", "a");
    server.write("big.bin", std::string(20 << 20, 'z'));
    for (int i = 0; i < 3; ++i) ASSERT_EQ(http_get(server.port(), "/a.txt?n=" + std::to_string(i))->status, 200);
    HttpClient client(server.port());
    ASSERT_TRUE(client.send("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"));  // and never read
    ASSERT_TRUE(wait_readable(client.fd()));
    const auto started = Clock::now();
    const int status = server.stop(SIGTERM, 20s);
    EXPECT_LT(Clock::now() - started, 8s);  // 1 s of drain, then the worker leaves by itself
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    const std::string log = server.error_log();
    EXPECT_NE(log.find("drain timed out"), std::string::npos) << log;
    EXPECT_EQ(log.find("killing"), std::string::npos) << log;
    EXPECT_EQ(log.find("signal 9"), std::string::npos) << log;
    EXPECT_EQ(log.find("[crit]"), std::string::npos) << log;
    const auto lines = lines_of(server.dir().path() / "access.log");
    ASSERT_EQ(lines.size(), 4u);
    int small = 0;
    for (const std::string& line : lines) {
        std::smatch m;
        if (std::regex_search(line, std::regex(R"("GET /a\.txt\?n=\d HTTP/1\.1" 200 1 )"))) ++small;
        if (std::regex_search(line, m, std::regex(R"("GET /big\.bin HTTP/1\.1" 200 (\d+) )"))) {
            EXPECT_GT(std::stoull(m[1]), 0u);
            EXPECT_LT(std::stoull(m[1]), 20u << 20);  // the bytes actually sent
        }
    }
    EXPECT_EQ(small, 3);
    EXPECT_NE(log.find("reason=shutdown"), std::string::npos) << log;
}

std::vector<std::string> lines_of(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

TEST(LogReopen, Sigusr1AfterRenameLosesNoLine) {
    ServerProcess server(ServerOptions{.yaml = "access_log: access.log\n"});
    server.write("a.txt", "a");
    const auto log = server.dir().path() / "access.log";
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(http_get(server.port(), "/a.txt?n=" + std::to_string(i)));
    std::filesystem::rename(log, server.dir().path() / "access.log.1");
    server.signal(SIGUSR1);
    int sent = 50;
    const auto deadline = Clock::now() + 10s;
    // Keep requesting until lines show up in the new file (each worker flushes within a second).
    while (Clock::now() < deadline) {
        ASSERT_TRUE(http_get(server.port(), "/a.txt?n=" + std::to_string(sent++)));
        if (std::filesystem::exists(log) && std::filesystem::file_size(log) > 0) break;
        std::this_thread::sleep_for(20ms);
    }
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(http_get(server.port(), "/a.txt?n=" + std::to_string(sent++)));
    ASSERT_EQ(WEXITSTATUS(server.stop()), 0);  // workers flush on exit
    std::set<std::string> seen;
    for (const auto& file : {server.dir().path() / "access.log.1", log})
        for (const std::string& line : lines_of(file)) {
            std::smatch m;
            ASSERT_TRUE(std::regex_search(line, m, std::regex(R"("GET /a\.txt\?n=(\d+) HTTP/1\.1" 200 1 )"))) << line;
            EXPECT_TRUE(seen.insert(m[1]).second) << "line logged twice: " << line;
        }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(sent));
    EXPECT_FALSE(lines_of(log).empty());
    EXPECT_NE(server.error_log().find("reopening log files"), std::string::npos);
}

TEST(LogReopen, RespawnedWorkerWritesTheCurrentFile) {
    ServerProcess server(ServerOptions{.yaml = "access_log: access.log\n", .workers = 1});
    server.write("a.txt", "a");
    const auto log = server.dir().path() / "access.log";
    ASSERT_TRUE(http_get(server.port(), "/a.txt?before"));
    std::filesystem::rename(log, server.dir().path() / "access.log.1");
    server.signal(SIGUSR1);
    ASSERT_TRUE(wait_for_log(server, "reopening log files", 10s));
    const auto old = server.workers();
    ::kill(old.at(0), SIGKILL);  // a crash after the rotation
    ASSERT_EQ(server.wait_for_workers(1, old, 5s).size(), 1u);
    ASSERT_TRUE(http_get(server.port(), "/a.txt?after"));
    ASSERT_EQ(WEXITSTATUS(server.stop()), 0);
    std::string current;
    for (const std::string& line : lines_of(log)) current += line + "\n";
    EXPECT_NE(current.find("/a.txt?after"), std::string::npos) << current;
}

// A root master opens the log files it hands to unprivileged workers. Whoever can write
// in the log directory must not be able to point those opens at another file.
TEST(LogFiles, RootMasterRefusesALogReplacedByASymlink) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    ServerProcess server(ServerOptions{.yaml = "user: nobody\naccess_log: access.log\n"});
    server.write("a.txt", "a");
    const auto secret = server.dir().write("secret", "root only\n");
    std::filesystem::permissions(secret, std::filesystem::perms(0600));
    const auto log = server.dir().path() / "access.log";
    std::filesystem::remove(log);
    std::filesystem::create_symlink(secret, log);  // what a worker user could do in its own log directory
    server.signal(SIGUSR1);
    ASSERT_TRUE(wait_for_log(server, "cannot open access log", 10s)) << server.error_log();
    for (int i = 0; i < 5; ++i) EXPECT_EQ(http_get(server.port(), "/a.txt")->status, 200);  // serves on
    const auto old = server.workers();
    ::kill(old.at(0), SIGKILL);  // a respawn opens the log again
    ASSERT_EQ(server.wait_for_workers(2, {old.at(0)}, 10s).size(), 2u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(http_get(server.port(), "/a.txt")->status, 200);
    ASSERT_EQ(WEXITSTATUS(server.stop()), 0);
    std::ifstream in(secret);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "root only\n");
    EXPECT_NE(server.error_log().find("symbolic link"), std::string::npos) << server.error_log();
}

// The master opens logs with the workers' rights, so a directory they control anywhere
// on the log's path cannot lead it into one they could not write (a symlink in place of
// the log directory, to a root-only one, say).
TEST(LogFiles, RootMasterOpensLogsWithTheWorkersRights) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    ServerProcess server(ServerOptions{.yaml = "user: nobody\naccess_log: site/logs/access.log\n",
                                       .wait_ready = false,
                                       .before_start = [](const std::filesystem::path& dir) {
                                           std::filesystem::create_directories(dir / "site/logs");
                                           ::chown((dir / "site").c_str(), 65534, 65534);  // the workers' own
                                           ::chown((dir / "site/logs").c_str(), 65534, 65534);
                                       }});
    ASSERT_NE(server.wait_for_notification("READY=1").size(), 0u) << server.error_log();
    server.write("a.txt", "a");
    ASSERT_EQ(http_get(server.port(), "/a.txt")->status, 200);
    const auto site = server.dir().path() / "site";
    struct stat st {};
    ASSERT_EQ(::stat((site / "logs/access.log").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 65534u);  // created by the workers' user, not by root
    // What a compromised worker could do: swap its log directory for a link to a
    // root-only one, then wait for a rotation.
    const auto secret = server.dir().path() / "secret";
    std::filesystem::create_directory(secret);
    std::filesystem::permissions(secret, std::filesystem::perms(0700));
    std::filesystem::rename(site / "logs", site / "logs.old");
    std::filesystem::create_directory_symlink(secret, site / "logs");
    server.signal(SIGUSR1);
    ASSERT_TRUE(wait_for_log(server, "(as user nobody): Permission denied", 10s)) << server.error_log();
    EXPECT_EQ(http_get(server.port(), "/a.txt")->status, 200);  // serves on, with the log it had
    EXPECT_TRUE(std::filesystem::is_empty(secret)) << "the root master created a file in a root-only directory";
}

TEST(LogFiles, ALogDirectoryTheWorkersCannotWriteFailsTheStartClearly) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    TempDir dir;
    dir.write("root/index.html", "x");
    std::filesystem::create_directory(dir.path() / "logs");  // root's, 0755
    dir.write("server.yaml", "root: root\nuser: nobody\nlisten: [\"127.0.0.1:0\"]\nerror_log: logs/error.log\n");
    const RunResult r = run_pywebd({"-c", (dir.path() / "server.yaml").string()}, 15s);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("cannot open error log " + (dir.path() / "logs/error.log").string() +
                            " (as user nobody): Permission denied"),
              std::string::npos)
        << r.output;
}

TEST(LogFiles, ALogThatIsNotARegularFileIsRefused) {
    TempDir dir;
    dir.write("root/index.html", "x");
    ASSERT_EQ(::mkfifo((dir.path() / "fifo").c_str(), 0600), 0);  // opening it to write would block
    dir.write("server.yaml", "root: root\nlisten: [\"127.0.0.1:0\"]\naccess_log: fifo\n" + user_line());
    const RunResult r = run_pywebd({"-c", (dir.path() / "server.yaml").string()}, 15s);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("not a regular file"), std::string::npos) << r.output;
}

// Workers killed again and again while serving (the OOM killer, an operator) are not a
// crash loop: each is replaced at once, and the server answers throughout.
TEST(CrashLoop, KillingAServingWorkerEvery500msNeverStopsService) {
    ServerProcess server(ServerOptions{.workers = 2});
    server.write("a.txt", "a");
    constexpr int kSeconds = 12;
    constexpr int kClients = 8;
    std::array<std::atomic<int>, kSeconds + 2> answered{};
    std::atomic<int> timeouts{0}, refused{0}, cut{0};
    std::atomic<bool> stop{false};
    const auto started = Clock::now();
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i)
        clients.emplace_back([&] {
            while (!stop) {
                const auto sent = Clock::now();
                HttpClient client(server.port(), "127.0.0.1", 3s);
                if (!client.connected()) {
                    ++refused;
                    continue;
                }
                const auto r = client.get("/a.txt", "Connection: close\r\n");
                const auto now = Clock::now();
                if (r && r->status == 200) {
                    const auto second = std::chrono::duration_cast<std::chrono::seconds>(now - started).count();
                    ++answered[static_cast<std::size_t>(std::min<long>(second, kSeconds + 1))];
                } else if (now - sent >= 3s) {
                    ++timeouts;  // nobody answered: no worker was there to accept
                } else {
                    ++cut;  // the connection died with the worker that held it
                }
            }
        });
    int kills = 0;
    while (Clock::now() - started < std::chrono::seconds(kSeconds)) {
        std::this_thread::sleep_for(500ms);
        const auto workers = server.workers();
        if (workers.empty()) continue;
        ::kill(workers[static_cast<std::size_t>(kills) % workers.size()], SIGKILL);
        ++kills;
    }
    stop = true;
    for (auto& t : clients) t.join();
    std::string per_second;
    for (int s = 0; s < kSeconds; ++s) per_second += std::to_string(answered[static_cast<std::size_t>(s)]) + " ";
    std::cout << "kills=" << kills << " answered per second: " << per_second << "cut=" << cut
              << " timeouts=" << timeouts << " refused=" << refused << std::endl;
    for (int s = 0; s < kSeconds; ++s)
        EXPECT_GT(answered[static_cast<std::size_t>(s)], 0) << "no answer in second " << s << ": " << per_second;
    EXPECT_EQ(timeouts, 0);
    EXPECT_EQ(refused, 0);
    EXPECT_LE(cut, kills * kClients);  // at most the connections each killed worker held
    EXPECT_EQ(server.wait_for_workers(2, {}, 10s).size(), 2u);
    // Workers killed soon after they started may wait a little, never long.
    const std::string log = server.error_log();
    const std::regex restart(R"(restarting in (\d+) ms)");
    for (auto it = std::sregex_iterator(log.begin(), log.end(), restart); it != std::sregex_iterator(); ++it)
        EXPECT_LE(std::stoi((*it)[1]), 1000) << (*it)[0];
}

TEST(Watchdog, PingsAtHalfTheInterval) {
    ServerProcess server(ServerOptions{.env = {"WATCHDOG_USEC=400000"}});
    std::vector<Clock::time_point> pings;
    const auto deadline = Clock::now() + 15s;  // generous: a loaded machine only delays pings
    while (pings.size() < 7 && Clock::now() < deadline)
        if (auto m = server.next_notification(1s); m && *m == "WATCHDOG=1") pings.push_back(Clock::now());
    ASSERT_EQ(pings.size(), 7u);
    std::vector<std::chrono::milliseconds> gaps;
    for (std::size_t i = 1; i < pings.size(); ++i)
        gaps.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(pings[i] - pings[i - 1]));
    std::sort(gaps.begin(), gaps.end());
    const auto median = gaps[gaps.size() / 2];
    EXPECT_GE(median, 150ms);  // every 200 ms: not more often …
    EXPECT_LE(median, 350ms);  // … and well inside the 400 ms systemd allows
}

TEST(Privileges, WorkersDropToTheConfiguredUser) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    ServerProcess server(ServerOptions{.yaml = "user: nobody\n"});
    server.write("a.txt", "a");
    std::filesystem::permissions(server.root(), std::filesystem::perms(0755));
    for (pid_t worker : server.workers()) {
        std::istringstream status(read_proc_file("/proc/" + std::to_string(worker) + "/status"));
        std::string line;
        while (std::getline(status, line))
            if (line.rfind("Uid:", 0) == 0) {
                EXPECT_EQ(line.find("\t0\t"), std::string::npos) << line;
            }
    }
    EXPECT_EQ(http_get(server.port(), "/a.txt")->body, "a");
}

TEST(Privileges, RootWorkersRefusedUnlessNamed) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    TempDir dir;
    dir.write("root/index.html", "x");
    dir.write("server.yaml", "root: root\n");
    const RunResult r = run_pywebd({"-t", "-c", (dir.path() / "server.yaml").string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("refusing to run workers as root"), std::string::npos) << r.output;
    EXPECT_EQ(run_pywebd({"-t", "-c", (dir.path() / "server.yaml").string(), "-u", "root"}).status, 0);
}

}  // namespace
}  // namespace pywebd::test

namespace pywebd::test {
namespace {

// A root the master may read but the workers (as nobody) may not: the workers cannot
// start, which validation in the master cannot see.
TEST(WorkerStartFailure, ReloadToAnUnreadableRootKeepsTheOldGeneration) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    ServerProcess server(ServerOptions{.yaml = "user: nobody\n"});
    server.write("index.html", "old");
    std::filesystem::permissions(server.root(), std::filesystem::perms(0755));
    server.dir().write("locked/index.html", "new");
    std::filesystem::permissions(server.dir().path() / "locked", std::filesystem::perms(0700));
    server.write_config("root: locked\nuser: nobody\nworkers: 2\nerror_log: error.log\n");
    const auto seen = reload(server);
    ASSERT_FALSE(seen.empty());
    EXPECT_NE(seen.back().find("last reload: failed: new workers could not start"), std::string::npos) << join(seen);
    EXPECT_EQ(http_get(server.port(), "/")->body, "old");
    EXPECT_NE(server.error_log().find("cannot open root"), std::string::npos);
    EXPECT_EQ(server.wait_for_workers(2, {}, 5s).size(), 2u);  // the failed generation is gone
}

TEST(WorkerStartFailure, AtStartTheMasterStopsWithStatusOne) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    TempDir dir;
    dir.write("locked/index.html", "x");
    std::filesystem::permissions(dir.path() / "locked", std::filesystem::perms(0700));
    dir.write("server.yaml", "root: locked\nuser: nobody\nworkers: 2\nlisten: [\"127.0.0.1:0\"]\n");
    const RunResult r = run_pywebd({"-c", (dir.path() / "server.yaml").string()}, 15s);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("cannot open root"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("no worker can run; stopping"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pywebd::test
