// In-place binary upgrade: SIGHUP after the binary on disk changed (what a package
// upgrade and `systemctl reload` do) or SIGUSR2 re-executes the master with the same
// PID, its sockets, its workers (drained once the new generation serves) and its
// counters; a binary that does not pass its own configuration check leaves the running
// version serving.

#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>

#include "load_clients.hpp"
#include "server_process.hpp"

namespace pywebd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

ino_t inode_of(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Replaces the binary the way a package manager does: a new file renamed over the old.
void replace_binary(const ServerProcess& server, const fs::path& with) {
    const fs::path staged = server.binary_path().string() + ".new";
    fs::copy_file(with, staged, fs::copy_options::overwrite_existing);
    fs::permissions(staged, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    fs::rename(staged, server.binary_path());
}

bool contains(const std::vector<std::string>& notes, const std::string& text) {
    return std::any_of(notes.begin(), notes.end(),
                       [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

std::string body_of_length(std::size_t n) { return std::string(n, 'u'); }

std::uint64_t requests_2xx(const ServerProcess& server) {
    HttpClient admin(server.port(1));
    admin.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto r = admin.read_response();
    if (!r) return 0;
    const std::string series = R"(pywebd_http_requests_total{protocol="http1",code="2xx"} )";
    const auto at = r->body.find(series);
    return at == std::string::npos ? 0 : std::stoull(r->body.substr(at + series.size()));
}

TEST(Upgrade, ABinaryReplacedOnDiskTakesOverOnReloadWithoutFailingARequest) {
    ServerProcess server({.yaml = "admin: \"127.0.0.1:{port1}\"\ntimeouts: {shutdown: 60s, send: 60s}\n",
                          .workers = 2,
                          .sockets = 2,
                          .copy_binary = true});
    const std::string big = body_of_length(16 << 20);
    server.write("big.bin", big);
    server.write("index.html", "hello\n");
    const pid_t master = server.pid();
    const auto old_workers = server.workers();
    ASSERT_EQ(old_workers.size(), 2u);

    // A download in progress on an old worker, which must finish after the upgrade.
    HttpClient slow(server.port());
    ASSERT_TRUE(slow.connected());
    slow.send("GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n");
    std::string first;
    ASSERT_TRUE(slow.receive(first));

    LoadClients load(server.port(), "/index.html", {"hello\n"}, 3, 1);
    std::this_thread::sleep_for(300ms);
    replace_binary(server, server_binary());
    const ino_t new_inode = inode_of(server.binary_path());
    server.signal(SIGHUP);
    const auto notes = server.wait_for_notification("upgraded in place", 30s);
    ASSERT_TRUE(contains(notes, "RELOADING=1")) << server.error_log();
    ASSERT_TRUE(contains(notes, "last reload: ok (upgraded in place to")) << server.error_log();
    EXPECT_EQ(::kill(master, 0), 0);                                             // the same process
    EXPECT_EQ(inode_of("/proc/" + std::to_string(master) + "/exe"), new_inode);  // running the new file
    // Two new workers; the old ones drain (the one sending big.bin stays until it is sent).
    const auto new_workers = [&] {
        const auto now = server.workers();
        return std::count_if(now.begin(), now.end(), [&](pid_t p) {
            return std::find(old_workers.begin(), old_workers.end(), p) == old_workers.end();
        });
    };
    for (auto deadline = std::chrono::steady_clock::now() + 15s;
         std::chrono::steady_clock::now() < deadline && new_workers() < 2;)
        std::this_thread::sleep_for(50ms);
    EXPECT_EQ(new_workers(), 2);
    std::this_thread::sleep_for(300ms);
    load.stop();
    EXPECT_EQ(load.failures(), 0u) << (load.failure_samples().empty() ? "" : load.failure_samples()[0]);
    EXPECT_GT(load.requests(), 0u);

    // The slow download, begun by the previous version, arrives whole.
    std::string rest = first;
    while (rest.size() < big.size() && slow.receive(rest)) {}
    const auto body_at = rest.find("\r\n\r\n");
    ASSERT_NE(body_at, std::string::npos);
    EXPECT_EQ(rest.size() - body_at - 4, big.size());
    // Counters carried over: every request the load sent, and the download.
    const std::uint64_t expected = load.requests() + 1;
    std::uint64_t counted = 0;
    for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
        if ((counted = requests_2xx(server)) == expected) break;
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(counted, expected);
    // The previous version's workers are gone once drained.
    for (auto deadline = std::chrono::steady_clock::now() + 15s;
         std::chrono::steady_clock::now() < deadline && server.workers().size() > 2;)
        std::this_thread::sleep_for(50ms);
    EXPECT_EQ(server.workers().size(), 2u);

    // SIGUSR2 upgrades whatever the file is.
    const auto before_usr2 = server.workers();
    server.signal(SIGUSR2);
    ASSERT_TRUE(contains(server.wait_for_notification("generation 3", 30s), "upgraded in place")) << server.error_log();
    EXPECT_EQ(server.wait_for_workers(2, before_usr2, 15s).size(), 2u);
    EXPECT_EQ(server.get("/index.html")->body, "hello\n");
    EXPECT_EQ(WEXITSTATUS(server.stop()), 0);
}

// The admin listener's port, from the line the master logs when it binds it.
std::uint16_t admin_port(const ServerProcess& server) {
    const std::string log = server.error_log();
    const std::string line = "admin listening on 127.0.0.1:";
    const auto at = log.find(line);
    return at == std::string::npos ? 0 : static_cast<std::uint16_t>(std::stoi(log.substr(at + line.size())));
}

std::string health(std::uint16_t port) {
    HttpClient client(port);
    client.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto r = client.read_response();
    return r ? r->body : "(no answer)";
}

TEST(Upgrade, ABrokenBinaryLeavesTheRunningVersionServing) {
    ServerProcess server({.yaml = "admin: \"127.0.0.1:0\"\nlog_level: info\n", .workers = 2, .copy_binary = true});
    server.write("index.html", "hello\n");
    ASSERT_TRUE(wait_for_log(server, "admin listening on"));
    const std::uint16_t admin = admin_port(server);
    const auto workers = server.workers();
    struct Case {
        const char* name;
        std::string content;
        const char* reason;
    };
    const Case cases[] = {
        {"fails to start", "#!/bin/sh\necho 'pywebd: cannot start' >&2\nexit 1\n",
         "failed its trial start (exit status 1)"},
        {"crashes", "#!/bin/sh\nkill -SEGV $$\n", "failed its trial start (signal 11"},
        {"is not a program", "garbage, not an executable", "cannot be executed"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const fs::path broken = server.dir().path() / "broken";
        std::ofstream(broken) << c.content;
        replace_binary(server, broken);
        server.signal(SIGUSR2);
        const auto notes = server.wait_for_notification("last upgrade: failed", 30s);
        EXPECT_TRUE(
            contains(notes, std::string("last upgrade: failed: ") + server.binary_path().string() + " " + c.reason))
            << (notes.empty() ? "" : notes.back()) << server.error_log();
        EXPECT_EQ(server.get("/index.html")->body, "hello\n");
        EXPECT_EQ(server.workers(), workers);  // nothing restarted
    }
    // A SIGHUP with a broken binary on disk still reloads the configuration (a renewed
    // certificate must not wait on a binary), and says the upgrade failed.
    server.signal(SIGHUP);
    const auto reloaded = server.wait_for_notification("last reload: ok (generation 2)", 30s);
    EXPECT_TRUE(contains(reloaded, "last upgrade: failed: ")) << server.error_log();
    EXPECT_EQ(server.get("/index.html")->body, "hello\n");
    EXPECT_TRUE(wait_for_log(server, "this version serves on", 5s));
    // SIGUSR2 is the master's: a worker sent one ignores it.
    const auto serving = server.wait_for_workers(2, workers, 15s);
    for (pid_t worker : serving) ::kill(worker, SIGUSR2);
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(server.workers(), serving);
    // A good binary afterwards upgrades as usual; the admin listener, bound by the
    // master on a port the kernel chose, is handed over, not bound again.
    replace_binary(server, server_binary());
    server.signal(SIGHUP);
    EXPECT_TRUE(contains(server.wait_for_notification("upgraded in place", 30s), "last reload: ok"))
        << server.error_log();
    EXPECT_EQ(server.get("/index.html")->body, "hello\n");
    EXPECT_EQ(health(admin), "ok\n");
    const std::string log = server.error_log();
    EXPECT_EQ(log.find("admin listening on", log.find("admin listening on") + 1), std::string::npos);
    EXPECT_EQ(WEXITSTATUS(server.stop()), 0);
}

// The new version starts, but its workers cannot run (here: a new root the workers'
// user may not search): the upgrade is given up and the previous version's workers,
// adopted by the new master, serve on. A later reload starts a generation as usual.
TEST(Upgrade, WhenTheNewVersionsWorkersCannotRunThePreviousOnesServeOn) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: the workers run as nobody, the master as root";
    ServerProcess server({.yaml = "admin: \"127.0.0.1:{port1}\"\n", .workers = 2, .sockets = 2, .copy_binary = true});
    server.write("index.html", "hello\n");
    const auto workers = server.workers();
    const fs::path locked = server.dir().path() / "locked";
    fs::create_directory(locked);
    fs::permissions(locked, fs::perms::owner_all);  // root only
    const std::string good_config = [&] {
        std::ifstream in(server.config_path());
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }();
    std::string locked_config = good_config;
    locked_config.replace(locked_config.find("root: "), 0, "root: " + locked.string() + "\n#");
    { std::ofstream(server.config_path()) << locked_config; }
    server.signal(SIGUSR2);
    const auto notes = server.wait_for_notification("last upgrade: failed", 40s);
    EXPECT_TRUE(contains(notes, "last upgrade: failed: the new version's workers cannot run")) << server.error_log();
    EXPECT_TRUE(contains(notes, "2 workers of the previous version")) << server.error_log();
    EXPECT_EQ(server.get("/index.html")->body, "hello\n");  // the adopted workers
    EXPECT_EQ(health(server.port(1)), "ok\n");
    for (pid_t p : workers) EXPECT_EQ(::kill(p, 0), 0) << p;
    { std::ofstream(server.config_path()) << good_config; }
    server.signal(SIGHUP);
    EXPECT_TRUE(contains(server.wait_for_notification("last reload: ok", 30s), "READY=1")) << server.error_log();
    EXPECT_EQ(server.wait_for_workers(2, workers, 15s).size(), 2u);  // a new generation; the adopted ones drained
    EXPECT_EQ(server.get("/index.html")->body, "hello\n");
    EXPECT_EQ(WEXITSTATUS(server.stop()), 0);
}

// Bound by the master on a port the kernel chose (listen: …:0), an h2c listener keeps
// its port and its role across an upgrade.
TEST(Upgrade, APortZeroListenerKeepsItsPortAndRole) {
    ServerProcess server({.yaml = "listen: [{address: \"127.0.0.1:0\", h2c: true}]\nlog_level: info\n",
                          .workers = 1,
                          .socket_activation = false,
                          .copy_binary = true});
    server.write("index.html", "hello\n");
    ASSERT_TRUE(wait_for_log(server, "listening on 127.0.0.1:"));
    const std::string log = server.error_log();
    const std::string line = "listening on 127.0.0.1:";
    const std::string port = std::to_string(std::stoi(log.substr(log.find(line) + line.size())));
    const auto h2c = [&] {
        return run_program({"curl", "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w",
                            "%{http_version} %{http_code}", "http://127.0.0.1:" + port + "/index.html"},
                           10s)
            .output;
    };
    EXPECT_EQ(h2c(), "2 200");
    server.signal(SIGUSR2);
    ASSERT_TRUE(contains(server.wait_for_notification("upgraded in place", 30s), "last reload: ok"))
        << server.error_log();
    EXPECT_EQ(h2c(), "2 200");
    EXPECT_EQ(WEXITSTATUS(server.stop()), 0);
}

// A PYWEBD_UPGRADE left in a fresh start's environment is not trusted.
TEST(Upgrade, AStrayHandOverInTheEnvironmentIsIgnored) {
    ServerProcess server({.yaml = "",
                          .workers = 1,
                          .env = {"PYWEBD_UPGRADE=format=1 master=1 activated=1 generation=9 metrics=3 socket=4,plain "
                                  "worker=1,1,0,0,5,ready"}});
    server.write("index.html", "hello\n");
    EXPECT_EQ(server.get("/index.html")->body, "hello\n");
    EXPECT_TRUE(wait_for_log(server, "PYWEBD_UPGRADE names process 1, not this one: ignored")) << server.error_log();
    EXPECT_EQ(WEXITSTATUS(server.stop()), 0);
}

}  // namespace
}  // namespace pywebd::test
