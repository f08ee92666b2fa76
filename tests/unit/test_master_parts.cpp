// The master's pure parts: command line, log files, crash back-off, supervisor bookkeeping.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>

#include "cli.hpp"
#include "identity.hpp"
#include "log_file.hpp"
#include "supervisor.hpp"
#include "temp_dir.hpp"

namespace pywebd {
namespace {

CliResult parse(std::vector<std::string> args) { return parse_command_line(args); }

mode_t current_umask() {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    return mask;
}

TEST(CommandLine, Defaults) {
    const CliResult r = parse({});
    ASSERT_TRUE(r.options);
    EXPECT_FALSE(r.options->port);
    EXPECT_FALSE(r.options->config_file);
    EXPECT_FALSE(r.options->test_config);
}

TEST(CommandLine, PortPositionalOrFlag) {
    EXPECT_EQ(parse({"9000"}).options->port, 9000);
    EXPECT_EQ(parse({"-p", "9001"}).options->port, 9001);
    EXPECT_EQ(parse({"--port=0"}).options->port, 0);
    const CliResult r = parse({"-w", "3", "-r", "/srv/www", "-t"});
    ASSERT_TRUE(r.options);
    EXPECT_EQ(r.options->workers, 3u);
    EXPECT_EQ(r.options->root, "/srv/www");
    EXPECT_TRUE(r.options->test_config);
}

// A bad argument gets the one line that says what is wrong and where to look, not the
// whole help text after it (which buries the line).
TEST(CommandLine, BadArgumentsExitTwoWithOneLineAndAHint) {
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{{"abc"},
                                                                                      {"70000"},
                                                                                      {"-1"},
                                                                                      {"80", "81"},
                                                                                      {"80", "-p", "81"},
                                                                                      {"--bogus"},
                                                                                      {"-w", "0"},
                                                                                      {"-c", "/nonexistent/file.yaml"},
                                                                                      {"-p"}}) {
        const CliResult r = parse(args);
        EXPECT_FALSE(r.options) << args[0];
        EXPECT_EQ(r.exit_status, 2) << args[0];
        EXPECT_EQ(r.output.find("Usage"), std::string::npos) << r.output;
        EXPECT_EQ(r.output.rfind("pywebd: ", 0), 0u) << r.output;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 2) << r.output;
        EXPECT_NE(r.output.find("\ntry 'pywebd --help' for the options\n"), std::string::npos) << r.output;
    }
}

TEST(CommandLine, HelpAndVersionExitZero) {
    CliResult r = parse({"--help"});
    EXPECT_EQ(r.exit_status, 0);
    EXPECT_NE(r.output.find("--config"), std::string::npos);
    r = parse({"--version"});
    EXPECT_EQ(r.exit_status, 0);
    EXPECT_EQ(r.output.rfind("pywebd ", 0), 0u);
}

TEST(Backoff, FirstFailedStartImmediateThenDoublingCappedAndReset) {
    Backoff b;
    EXPECT_EQ(b.on_failed_start(), 0);
    EXPECT_EQ(b.on_failed_start(), 100);
    EXPECT_EQ(b.on_failed_start(), 200);
    EXPECT_EQ(b.on_failed_start(), 400);
    for (int i = 0; i < 20; ++i) b.on_failed_start();
    EXPECT_EQ(b.on_failed_start(), Backoff::kMaxDelayMs);
    b.reset();  // it served for a while after all
    EXPECT_EQ(b.on_failed_start(), 0);
    EXPECT_EQ(b.on_failed_start(), 100);
}

TEST(LogFile, AppendsToARegularFileAndRefusesLinksAndSpecialFiles) {
    test::TempDir dir;
    OpenedLog log = open_log_file(dir.path() / "new.log");
    ASSERT_TRUE(log.fd) << log.error;
    struct stat st {};
    ASSERT_EQ(::fstat(log.fd.get(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u & ~current_umask());
    const auto target = dir.write("target", "");
    std::filesystem::create_symlink(target, dir.path() / "link.log");
    log = open_log_file(dir.path() / "link.log");
    EXPECT_FALSE(log.fd);
    EXPECT_NE(log.error.find("link.log: is a symbolic link"), std::string::npos) << log.error;
    ASSERT_EQ(::mkfifo((dir.path() / "fifo.log").c_str(), 0600), 0);
    log = open_log_file(dir.path() / "fifo.log");  // returns at once: nobody reads the FIFO
    EXPECT_NE(log.error.find("not a regular file"), std::string::npos) << log.error;
    std::filesystem::create_directory(dir.path() / "dir.log");
    log = open_log_file(dir.path() / "dir.log");
    EXPECT_FALSE(log.fd);
    EXPECT_FALSE(open_log_file(dir.path() / "missing" / "x.log").fd);
}

TEST(LogFile, AsAnotherIdentityOpensOnlyWhatThatUserCouldThenRestoresOurs) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    std::string error;
    const auto nobody = resolve_identity("nobody", "", error);
    ASSERT_TRUE(nobody) << error;
    test::TempDir dir;
    std::filesystem::create_directory(dir.path() / "theirs");
    ASSERT_EQ(::chown((dir.path() / "theirs").c_str(), nobody->uid, nobody->gid), 0);
    std::filesystem::create_directory(dir.path() / "ours");  // root's, 0755
    OpenedLog log = open_log_file(dir.path() / "theirs/a.log", &*nobody);
    ASSERT_TRUE(log.fd) << log.error;
    struct stat st {};
    ASSERT_EQ(::fstat(log.fd.get(), &st), 0);
    EXPECT_EQ(st.st_uid, nobody->uid);
    log = open_log_file(dir.path() / "ours/a.log", &*nobody);
    EXPECT_FALSE(log.fd);
    EXPECT_NE(log.error.find("(as user nobody): Permission denied"), std::string::npos) << log.error;
    // Root again afterwards: its own opens work, with its groups back.
    log = open_log_file(dir.path() / "ours/a.log");
    EXPECT_TRUE(log.fd) << log.error;
    EXPECT_EQ(::setfsuid(static_cast<uid_t>(-1)), 0);
    std::vector<gid_t> groups(static_cast<std::size_t>(::getgroups(0, nullptr)));
    ::getgroups(static_cast<int>(groups.size()), groups.data());
    EXPECT_EQ(std::count(groups.begin(), groups.end(), nobody->gid), 0);  // nogroup was only borrowed
}

TEST(DescribeExit, SignalOrStatus) {
    EXPECT_EQ(describe_exit(3 << 8), "exit status 3");
    EXPECT_EQ(describe_exit(SIGKILL), "signal 9 (Killed)");
}

// The supervisor with a spawner that forks children which just wait to be killed.
class SupervisorTest : public testing::Test {
protected:
    SupervisorTest() : epoll_(::epoll_create1(EPOLL_CLOEXEC)), log_("test") {
        log_.set_level(LogLevel::Crit);
        supervisor_ = std::make_unique<Supervisor>(log_, epoll_.get(), [this](const Generation&, unsigned) {
            if (spawns_left_ == 0) return Spawned{};  // as when fork or the channel fails
            --spawns_left_;
            ++spawned_;
            const pid_t pid = ::fork();
            if (pid == 0) {
                ::pause();
                ::_exit(0);
            }
            return Spawned{pid, UniqueFd(::epoll_create1(EPOLL_CLOEXEC))};  // any fd will do as a channel
        });
    }
    ~SupervisorTest() override {
        for (pid_t pid : supervisor_->pids()) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
    std::shared_ptr<Generation> generation(unsigned number, unsigned workers) {
        auto g = std::make_shared<Generation>();
        g->number = number;
        g->config.workers = workers;
        return g;
    }
    int kill_and_reap(pid_t pid) {
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        return status;
    }

    UniqueFd epoll_;
    Logger log_;
    std::unique_ptr<Supervisor> supervisor_;
    int spawned_ = 0;
    int spawns_left_ = 1000;
};

TEST_F(SupervisorTest, RespawnsCrashedWorkerAtOnceThenBacksOff) {
    supervisor_->start(generation(1, 2), 0);
    EXPECT_EQ(spawned_, 2);
    pid_t victim = supervisor_->pids()[0];
    EXPECT_TRUE(supervisor_->on_exit(victim, kill_and_reap(victim), 10, false));
    EXPECT_EQ(spawned_, 3);  // replaced at once
    victim = supervisor_->pids().back();
    supervisor_->on_exit(victim, kill_and_reap(victim), 20, false);
    EXPECT_EQ(spawned_, 3);  // second quick crash: waits
    EXPECT_EQ(supervisor_->next_deadline(), 120);
    supervisor_->run_due(119, false);
    EXPECT_EQ(spawned_, 3);
    supervisor_->run_due(120, false);
    EXPECT_EQ(spawned_, 4);
}

// A worker that served for a while is replaced at once, however often one is killed.
TEST_F(SupervisorTest, WorkersThatServedAreReplacedAtOnceEveryTime) {
    supervisor_->start(generation(1, 2), 0);
    std::int64_t now = 0;
    for (int i = 0; i < 10; ++i) {
        for (pid_t pid : supervisor_->pids()) supervisor_->on_ready(pid, now);
        now += RespawnPolicy::kSettleMs;
        const pid_t victim = supervisor_->pids()[0];
        supervisor_->on_exit(victim, kill_and_reap(victim), now, false);
        EXPECT_EQ(supervisor_->process_count(), 2u) << "kill " << i;
        EXPECT_EQ(supervisor_->next_deadline(), std::nullopt);
    }
    EXPECT_EQ(spawned_, 12);
}

// Dying soon after becoming ready (a crash on the first requests) is a crash loop too,
// but one that waits at most a second, and never while it leaves no worker at all.
TEST_F(SupervisorTest, EarlyDeathsAfterReadyBackOffBrieflyButNeverLeaveNone) {
    supervisor_->start(generation(1, 2), 0);
    const pid_t survivor = supervisor_->pids()[1];
    std::int64_t now = 0;
    std::vector<std::int64_t> delays;
    for (int i = 0; i < 8; ++i) {
        for (pid_t pid : supervisor_->pids()) supervisor_->on_ready(pid, now);
        const pid_t victim = supervisor_->pids()[0] == survivor ? supervisor_->pids()[1] : supervisor_->pids()[0];
        supervisor_->on_exit(victim, kill_and_reap(victim), now + 10, false);
        const auto due = supervisor_->next_deadline();
        delays.push_back(due ? *due - (now + 10) : 0);
        now = due ? *due : now + 10;
        supervisor_->run_due(now, false);
        ASSERT_EQ(supervisor_->process_count(), 2u);
    }
    EXPECT_EQ(delays, (std::vector<std::int64_t>{0, 100, 200, 400, 800, 1000, 1000, 1000}));
    // The last live worker of the generation is replaced at once, whatever the count.
    for (pid_t pid : supervisor_->pids()) supervisor_->on_ready(pid, now);
    for (pid_t pid : supervisor_->pids()) {
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        supervisor_->on_exit(pid, status, now + 10, false);
    }
    EXPECT_GE(supervisor_->process_count(), 1u);
}

// Before it is ready, a worker that dies is a failed start: the full back-off.
TEST_F(SupervisorTest, FailedStartsBackOffUpTo30s) {
    supervisor_->start(generation(1, 1), 0);
    std::int64_t now = 0;
    std::int64_t last = 0;
    for (int i = 0; i < 12; ++i) {
        const pid_t victim = supervisor_->pids().at(0);
        supervisor_->on_exit(victim, kill_and_reap(victim), now, false);
        const auto due = supervisor_->next_deadline();
        last = due ? *due - now : 0;
        now = due ? *due : now;
        supervisor_->run_due(now, false);
    }
    EXPECT_EQ(last, Backoff::kMaxDelayMs);
}

TEST_F(SupervisorTest, PlannedExitsAreNotRespawned) {
    supervisor_->start(generation(1, 1), 0);
    const pid_t pid = supervisor_->pids()[0];
    supervisor_->quit_all(SIGKILL, 0, 1000);
    int status = 0;
    ::waitpid(pid, &status, 0);
    supervisor_->on_exit(pid, status, 5, true);
    EXPECT_EQ(spawned_, 1);
    EXPECT_EQ(supervisor_->process_count(), 0u);
}

TEST_F(SupervisorTest, ReloadPromotesWhenReadyAndQuitsTheOld) {
    supervisor_->start(generation(1, 2), 0);
    for (pid_t pid : supervisor_->pids()) supervisor_->on_ready(pid, 0);
    EXPECT_TRUE(supervisor_->current_ready());
    const auto old = supervisor_->pids();
    supervisor_->stage(generation(2, 3), 10);
    EXPECT_EQ(supervisor_->process_count(), 5u);
    EXPECT_FALSE(supervisor_->pending_ready());
    for (pid_t pid : supervisor_->pids()) supervisor_->on_ready(pid, 0);
    EXPECT_TRUE(supervisor_->pending_ready());
    supervisor_->promote(SIGKILL, 20, 1000);
    EXPECT_EQ(supervisor_->current()->number, 2u);
    for (pid_t pid : old) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFSIGNALED(status));
        supervisor_->on_exit(pid, status, 30, false);
    }
    EXPECT_EQ(supervisor_->process_count(), 3u);
    for (pid_t pid : supervisor_->pids()) EXPECT_EQ(supervisor_->find(pid)->generation, 2u);
    EXPECT_EQ(spawned_, 5);  // nothing respawned: the old ones were asked to go
}

TEST_F(SupervisorTest, PendingWorkerDyingBeforeReadyFailsTheReload) {
    supervisor_->start(generation(1, 1), 0);
    supervisor_->stage(generation(2, 1), 0);
    const pid_t fresh = supervisor_->pids().back();
    supervisor_->on_exit(fresh, kill_and_reap(fresh), 5, false);
    EXPECT_TRUE(supervisor_->pending_failed());
    supervisor_->abandon(SIGKILL, 5, 100);
    EXPECT_EQ(supervisor_->pending(), nullptr);
    EXPECT_EQ(supervisor_->current()->number, 1u);
    EXPECT_EQ(spawned_, 2);
}

TEST_F(SupervisorTest, ANewGenerationThatCannotBeForkedFailsTheReload) {
    supervisor_->start(generation(1, 1), 0);
    spawns_left_ = 2;  // the third of four new workers cannot be started
    supervisor_->stage(generation(2, 4), 0);
    EXPECT_TRUE(supervisor_->pending_failed());
    EXPECT_EQ(spawned_, 3);  // and the fourth is not even tried
    supervisor_->abandon(SIGKILL, 5, 1000);
    EXPECT_EQ(supervisor_->current()->number, 1u);
    EXPECT_EQ(supervisor_->next_deadline(), 1005);  // the abandoned workers' kill time; no respawn scheduled
}

TEST_F(SupervisorTest, AWorkerThatCannotBeForkedIsTriedAgainLater) {
    spawns_left_ = 0;
    supervisor_->start(generation(1, 1), 0);
    EXPECT_EQ(supervisor_->process_count(), 0u);
    ASSERT_TRUE(supervisor_->next_deadline());
    spawns_left_ = 1;
    supervisor_->run_due(*supervisor_->next_deadline(), false);
    EXPECT_EQ(supervisor_->process_count(), 1u);
}

TEST_F(SupervisorTest, QuittingWorkersAreKilledAtTheirDeadline) {
    supervisor_->start(generation(1, 1), 0);
    const pid_t pid = supervisor_->pids()[0];
    supervisor_->quit_all(SIGCONT, 0, 50);  // a signal it ignores: it stays alive
    EXPECT_EQ(supervisor_->next_deadline(), 50);
    supervisor_->run_due(50, true);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    supervisor_->on_exit(pid, status, 60, true);
}

}  // namespace
}  // namespace pywebd
