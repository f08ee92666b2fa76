// The process model and the command line, against the real binary.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "http_client.hpp"
#include "server_process.hpp"

namespace pywebd::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(Processes, MasterForksTheConfiguredWorkers) {
    ServerProcess server(ServerOptions{.workers = 3});
    EXPECT_EQ(server.workers().size(), 3u);
    const std::string log = server.error_log();
    EXPECT_NE(log.find("ready: 3 workers accepting"), std::string::npos) << log;
}

TEST(Processes, SigtermStopsEverything) {
    ServerProcess server;
    server.write("a.txt", "a");
    const pid_t master = server.pid();
    const auto workers = server.workers();
    ASSERT_EQ(workers.size(), 2u);
    ASSERT_TRUE(http_get(server.port(), "/a.txt"));
    const int status = server.stop(SIGTERM);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    for (pid_t p : workers) EXPECT_NE(::kill(p, 0), 0) << "worker " << p << " outlived the master";
    EXPECT_NE(::kill(master, 0), 0);
    EXPECT_NE(server.error_log().find("pywebd stopped"), std::string::npos);
}

TEST(Processes, SigintStopsFast) {
    ServerProcess server;
    const auto workers = server.workers();
    const int status = server.stop(SIGINT, 5s);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    for (pid_t p : workers) EXPECT_NE(::kill(p, 0), 0);
}

TEST(Processes, KilledWorkerIsReplacedAndOtherConnectionsLive) {
    ServerProcess server;
    server.write("a.txt", "payload");
    const auto before = server.workers();
    ASSERT_EQ(before.size(), 2u);
    // Enough keep-alive connections that both workers hold some.
    std::vector<std::unique_ptr<HttpClient>> clients;
    for (int i = 0; i < 16; ++i) {
        clients.push_back(std::make_unique<HttpClient>(server.port()));
        ASSERT_TRUE(clients.back()->get("/a.txt"));
    }
    std::vector<std::optional<pid_t>> owners;
    for (auto& c : clients) owners.push_back(owner_of_connection(c->fd(), before));
    // EPOLLEXCLUSIVE favours whichever worker is idle first, so the split may be uneven:
    // kill the worker holding fewer, so that connections on the other one remain to check.
    const auto held = [&](pid_t p) { return std::count(owners.begin(), owners.end(), std::optional<pid_t>(p)); };
    const pid_t victim = held(before[0]) <= held(before[1]) ? before[0] : before[1];

    const auto killed_at = Clock::now();
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    const auto after = server.wait_for_workers(2, {victim}, 1s);
    const auto replaced_in = Clock::now() - killed_at;
    ASSERT_EQ(after.size(), 2u);
    EXPECT_LT(replaced_in, 1s);
    EXPECT_TRUE(std::find(after.begin(), after.end(), victim) == after.end());

    int survivors = 0;
    for (std::size_t i = 0; i < clients.size(); ++i) {
        ASSERT_TRUE(owners[i].has_value()) << "connection " << i << " has no owner";
        if (*owners[i] == victim) continue;  // those died with it
        ++survivors;
        auto r = clients[i]->get("/a.txt");
        ASSERT_TRUE(r) << "a connection of the surviving worker failed";
        EXPECT_EQ(r->body, "payload");
    }
    EXPECT_GT(survivors, 0);
    for (int i = 0; i < 20; ++i) {  // new connections reach both workers, old and new
        auto r = http_get(server.port(), "/a.txt");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
    }
    const std::string log = server.error_log();
    EXPECT_TRUE(std::regex_search(log, std::regex("worker died unexpectedly slot=\\d pid=" + std::to_string(victim) +
                                                  " generation=1 signal 9 \\(Killed\\)")))
        << log;
}

// PR_SET_PDEATHSIG is cleared by the kernel when credentials change: it must be set
// after the privilege drop, or a worker whose master is SIGKILLed relies on the channel alone.
TEST(Processes, WorkersKeepTheParentDeathSignalAfterDroppingPrivileges) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (to drop privileges)";
    ServerProcess server(ServerOptions{.yaml = "log_level: debug\n"});
    ASSERT_TRUE(wait_for_log(server, "parent_death_signal", 10s));
    const std::string log = server.error_log();
    const std::regex identity(R"(uid=(\d+) gid=\d+ capabilities=(\w+)/(\w+) parent_death_signal=(\d+))");
    int seen = 0;
    for (auto it = std::sregex_iterator(log.begin(), log.end(), identity); it != std::sregex_iterator(); ++it) {
        ++seen;
        EXPECT_NE((*it)[1], "0") << "the worker kept root";
        EXPECT_EQ((*it)[2], "0") << "effective capabilities left: " << (*it)[0];
        EXPECT_EQ((*it)[3], "0") << "permitted capabilities left: " << (*it)[0];
        EXPECT_EQ((*it)[4], std::to_string(SIGQUIT)) << (*it)[0];
    }
    EXPECT_EQ(seen, 2) << log;
}

TEST(Processes, WorkersExitWhenTheMasterDies) {
    ServerProcess server;
    const auto workers = server.workers();
    ::kill(server.pid(), SIGKILL);
    const auto deadline = Clock::now() + 5s;
    bool gone = false;
    while (!gone && Clock::now() < deadline) {
        gone = std::all_of(workers.begin(), workers.end(), [](pid_t p) {
            const std::string s = read_proc_file("/proc/" + std::to_string(p) + "/stat");
            return s.empty() || s.find(") Z") != std::string::npos;
        });
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(gone);
}

TEST(Processes, ConnectionLimitQueuesInsteadOfRefusing) {
    ServerProcess server(ServerOptions{.yaml = "limits:\n  max_connections: 2\n", .workers = 1});
    server.write("a.txt", "a");
    HttpClient one(server.port()), two(server.port());
    ASSERT_TRUE(one.get("/a.txt"));
    ASSERT_TRUE(two.get("/a.txt"));
    // A third connection is accepted by the kernel but not served until a slot frees.
    HttpClient three(server.port(), "127.0.0.1", 20s);
    ASSERT_TRUE(three.send("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(wait_for_log(server, "connection limit reached", 10s));  // the worker saw it, at the limit
    EXPECT_FALSE(three.closed_by_server(300ms));
    one = HttpClient(0);  // closes the first connection
    auto r = three.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

// Clients that connect and send half a request head, so each holds a connection slot.
std::vector<std::unique_ptr<HttpClient>> partial_heads(std::uint16_t port, int count) {
    std::vector<std::unique_ptr<HttpClient>> clients;
    for (int i = 0; i < count; ++i) {
        clients.push_back(std::make_unique<HttpClient>(port, "127.0.0.1", 20s));
        EXPECT_TRUE(clients.back()->send("GET /a.txt HTTP/1.1\r\nHost: t\r\n"));
    }
    return clients;
}

// Completes each held request with "Connection: close" and expects its answer: the
// queued ones are accepted as the answered ones close and free their slots.
void finish_all(std::vector<std::unique_ptr<HttpClient>>& clients) {
    for (std::size_t i = 0; i < clients.size(); ++i) {
        ASSERT_TRUE(clients[i]->send("Connection: close\r\n\r\n"));
        auto r = clients[i]->read_response();
        ASSERT_TRUE(r) << "client " << i << " was never served";
        EXPECT_EQ(r->status, 200);
    }
}

// At the connection limit a worker takes its listeners out of epoll; every path that
// registers them again must respect that, or level-triggered readiness spins the loop.
TEST(Processes, WorkersAtTheConnectionLimitSleepAndServeTheQueueLater) {
    ServerProcess server(ServerOptions{.yaml = "limits:\n  max_connections: 2\ntimeouts:\n  header: 60s\n"});
    server.write("a.txt", "a");
    const auto workers = server.workers();
    ASSERT_EQ(workers.size(), 2u);
    auto clients = partial_heads(server.port(), 8);  // 4 held, 4 queued in the kernel
    ASSERT_TRUE(wait_for_log(server, "connection limit reached", 10s));
    const long spent = cpu_ticks_over(workers, 2s);
    EXPECT_LT(spent, 30) << "workers spun at the connection limit";  // 10 ms ticks: 2 × 2 s would be 400
    EXPECT_EQ(server.error_log().find("File exists"), std::string::npos) << server.error_log();
    finish_all(clients);
}

// Holds `before` partial heads, reloads (the old generation drains, holding them), then
// queues `after` more behind the new generation, which reaches its limit: the draining
// workers must sleep, and every client is served in the end.
void expect_draining_workers_sleep(int before, int after) {
    const std::string yaml = "limits:\n  max_connections: 2\ntimeouts:\n  header: 60s\n  shutdown: 30s\n";
    ServerProcess server(ServerOptions{.yaml = yaml});
    server.write("a.txt", "a");
    const auto old_workers = server.workers();
    auto held = partial_heads(server.port(), before);
    server.signal(SIGHUP);  // same config: a new generation, the old one drains
    const auto seen = server.wait_for_notification("READY=1", 20s);
    ASSERT_FALSE(seen.empty());
    ASSERT_NE(seen.back().find("last reload: ok"), std::string::npos) << seen.back();
    ASSERT_TRUE(wait_for_log(server, "worker draining", 10s));
    auto queued = partial_heads(server.port(), after);
    ASSERT_TRUE(wait_for_log(server, "connection limit reached", 10s));
    const long spent = cpu_ticks_over(old_workers, 2s);
    EXPECT_LT(spent, 30) << "draining workers spun";
    held.insert(held.end(), std::make_move_iterator(queued.begin()), std::make_move_iterator(queued.end()));
    finish_all(held);
}

// Old workers at their limit when the drain began (their listeners already out of epoll,
// or wrongly back in it), 4 clients queued for the new generation, 4 more behind it.
TEST(Processes, DrainingWorkersAtTheLimitSleepWhileTheNewGenerationServes) { expect_draining_workers_sleep(8, 4); }

// Old workers below their limit (listeners registered) when the drain began: they must
// leave epoll before the worker closes them.
TEST(Processes, DrainingWorkersBelowTheLimitSleepWhileOthersQueue) { expect_draining_workers_sleep(2, 6); }

TEST(Processes, OutOfDescriptorsPausesAcceptingWithoutSpinning) {
    ServerProcess server(ServerOptions{.yaml = "limits:\n  max_connections: 1000\n", .workers = 1, .nofile = 48});
    server.write("a.txt", "a");
    const pid_t worker = server.workers().at(0);
    std::vector<std::unique_ptr<HttpClient>> clients;
    for (int i = 0; i < 60; ++i) clients.push_back(std::make_unique<HttpClient>(server.port(), "127.0.0.1", 2s));
    ASSERT_TRUE(wait_for_log(server, "accept paused", 10s));
    const long spent = cpu_ticks_over({worker}, 1s);
    EXPECT_LT(spent, 20) << "the worker spun on EMFILE";  // ticks are 10 ms: well under 20 % of a core
    clients.clear();                                      // descriptors free up; the server serves again
    const auto deadline = Clock::now() + 5s;
    std::optional<HttpResponse> r;
    while (!r && Clock::now() < deadline) {
        r = http_get(server.port(), "/a.txt");
        if (!r) std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(server.workers().at(0), worker);  // and it never crashed
}

TEST(Processes, HeaderTimeoutClosesSlowloris) {
    ServerProcess server(ServerOptions{.yaml = "timeouts:\n  header: 300ms\n"});
    HttpClient client(server.port());
    ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: t\r\n"));
    const std::string answer = client.read_until_close();
    EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << answer;
}

TEST(Processes, BindsItsOwnAddressesWhenNotActivated) {
    // Port 0 on one address: the kernel picks; the log says which.
    ServerProcess server(ServerOptions{.yaml = "listen: [\"[::1]:0\"]\n", .socket_activation = false});
    server.write("a.txt", "six");
    const std::string log = server.error_log();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(log, m, std::regex(R"(listening on \[::1\]:(\d+))"))) << log;
    const auto port = static_cast<std::uint16_t>(std::stoi(m[1]));
    HttpClient client(port, "::1");
    ASSERT_TRUE(client.connected());
    auto r = client.get("/a.txt");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "six");
}

TEST(CommandLine, BadArgumentsExitTwo) {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"abc"}, {"70000"}, {"80", "81"}, {"--nope"}}) {
        const RunResult r = run_pywebd(args);
        EXPECT_EQ(r.status, 2) << args[0];
        EXPECT_EQ(r.output.find("Usage"), std::string::npos) << r.output;
        EXPECT_NE(r.output.find("try 'pywebd --help'"), std::string::npos) << r.output;
    }
}

TEST(CommandLine, VersionAndHelp) {
    RunResult r = run_pywebd({"--version"});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.output.rfind("pywebd ", 0), 0u);
    r = run_pywebd({"--help"});
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.output.find("--workers"), std::string::npos);
}

TEST(CommandLine, PortInUseExitsOne) {
    UniqueFd busy(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ASSERT_EQ(::bind(busy.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(busy.get(), 1), 0);
    ::getsockname(busy.get(), reinterpret_cast<sockaddr*>(&address), &length);
    const auto port = std::to_string(ntohs(address.sin_port));
    TempDir dir;
    dir.write("root/index.html", "x");
    dir.write("server.yaml", "listen: [\"127.0.0.1\"]\nroot: root\n" + user_line());
    const RunResult r = run_pywebd({"-c", (dir.path() / "server.yaml").string(), port});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("cannot listen on 127.0.0.1:" + port + ": address already in use"), std::string::npos)
        << r.output;
}

TEST(CommandLine, ConfigTestAndConfigErrors) {
    TempDir dir;
    dir.write("root/index.html", "x");
    dir.write("good.yaml", "root: root\nworkers: 2\n" + user_line());
    dir.write("bad.yaml", "root: root\nworkers: many\nlimits:\n  max_uri_bytes: 1\n");
    RunResult r = run_pywebd({"-t", "-c", (dir.path() / "good.yaml").string()});
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.output.find("test is successful"), std::string::npos);
    r = run_pywebd({"-t", "-c", (dir.path() / "bad.yaml").string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("bad.yaml:2:10: workers: expected a whole number, got 'many'"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("bad.yaml:4:18: limits.max_uri_bytes: must be from 64"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("test failed"), std::string::npos);
    // Without -t the same file refuses to start, with the same errors.
    r = run_pywebd({"-c", (dir.path() / "bad.yaml").string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("workers: expected a whole number"), std::string::npos);
    // A missing root.
    r = run_pywebd({"-t", "-r", (dir.path() / "nowhere").string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("--root: root: '"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pywebd::test
