#include "server_process.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace pywebd::test {
namespace {

using Clock = std::chrono::steady_clock;

UniqueFd listen_on_loopback(std::uint16_t& port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd.get(), 511) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
        throw std::runtime_error(std::string("loopback listen: ") + std::strerror(errno));
    port = ntohs(address.sin_port);
    return fd;
}

UniqueFd notify_socket(const std::filesystem::path& path) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
        throw std::runtime_error(std::string("notify socket: ") + std::strerror(errno));
    return fd;
}

// Environment for the child: ours, minus anything systemd-related, plus `extra`.
std::vector<std::string> child_environment(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        if (entry.starts_with("LISTEN_") || entry.starts_with("NOTIFY_SOCKET=") || entry.starts_with("WATCHDOG_") ||
            entry.starts_with("JOURNAL_STREAM="))
            continue;
        env.emplace_back(entry);
    }
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (std::string& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// Writes the decimal pid into the "LISTEN_PID=" entry's reserved digits: the child has
// to do this after fork, where only async-signal-safe code may run.
void put_pid(char* digits, pid_t pid) {
    char reversed[16];
    int n = 0;
    do reversed[n++] = static_cast<char>('0' + pid % 10);
    while ((pid /= 10) > 0);
    for (int i = 0; i < n; ++i) digits[i] = reversed[n - 1 - i];
    digits[n] = '\0';
}

}  // namespace

std::string server_binary() { return PYWEBD_BINARY; }

// Fills in the placeholders (see ServerOptions) and, for a TLS server, its listen
// entry and certificate unless the yaml names its own.
std::string ServerProcess::expand(std::string yaml, bool tls, bool h2c) {
    const auto replace_all = [&](const std::string& from, const std::string& to) {
        for (std::size_t at = 0; (at = yaml.find(from, at)) != std::string::npos; at += to.size())
            yaml.replace(at, from.size(), to);
    };
    if (tls || yaml.find("{cert}") != std::string::npos || yaml.find("{ca}") != std::string::npos) {
        std::filesystem::create_directory(dir_.path() / "tls");
        pki_ = std::make_unique<TestPki>(dir_.path() / "tls");
        leaf_ = pki_->leaf("server", LeafOptions{.names = {"localhost", "127.0.0.1"}});
    }
    const auto has_key = [&](const std::string& key) {  // at the top level
        return yaml.starts_with(key + ":") || yaml.find("\n" + key + ":") != std::string::npos;
    };
    if (tls && !has_key("tls")) yaml += "tls:\n  certificates: [{certificate: \"{cert}\", key: \"{key}\"}]\n";
    if (tls && !has_key("listen")) yaml += "listen: [{address: \"127.0.0.1:{port0}\", tls: true}]\n";
    if (h2c && !has_key("listen")) yaml += "listen: [{address: \"127.0.0.1:{port0}\", h2c: true}]\n";
    for (std::size_t i = 0; i < ports_.size(); ++i)
        replace_all("{port" + std::to_string(i) + "}", std::to_string(ports_[i]));
    if (pki_) {
        replace_all("{cert}", leaf_.chain.string());
        replace_all("{key}", leaf_.key.string());
        replace_all("{ca}", pki_->ca_file().string());
    }
    return yaml;
}

ServerProcess::ServerProcess(ServerOptions options) : tls_(options.tls) {
    std::filesystem::create_directory(root());
    std::vector<UniqueFd> sockets;
    if (options.socket_activation) {
        for (unsigned i = 0; i < options.sockets; ++i) {
            std::uint16_t port = 0;
            sockets.push_back(listen_on_loopback(port));
            ports_.push_back(port);
        }
    } else {
        ports_.push_back(0);
    }
    std::string yaml = expand(options.yaml, options.tls, options.h2c);
    auto add_default = [&](const std::string& key, const std::string& line) {
        if (yaml.find(key + ":") == std::string::npos) yaml += line + "\n";
    };
    add_default("root", "root: root");
    add_default("error_log", "error_log: error.log");
    add_default("workers", "workers: " + std::to_string(options.workers));
    add_default("log_level", "log_level: info");
    add_default("user", user_line());
    write_config(yaml);
    // As root the workers run as nobody, and a root master opens the logs with the
    // workers' rights: the directory the logs go to is theirs, as in a deployment.
    if (::geteuid() == 0) ::chown(dir_.path().c_str(), 65534, 65534);
    binary_ = server_binary();
    if (options.copy_binary) {
        binary_ = dir_.path() / "pywebd";
        std::filesystem::copy_file(server_binary(), binary_);
    }
    if (options.before_start) options.before_start(dir_.path());

    const auto notify_path = dir_.path() / "notify.sock";
    notify_ = notify_socket(notify_path);
    ::chmod(notify_path.c_str(), 0666);  // a master started as another user must reach it too
    std::vector<std::string> extra = {"NOTIFY_SOCKET=" + notify_path.string()};
    extra.insert(extra.end(), options.env.begin(), options.env.end());
    if (!sockets.empty()) {
        extra.push_back("LISTEN_FDS=" + std::to_string(sockets.size()));
        extra.push_back("LISTEN_PID=0000000000000");
    }
    std::vector<std::string> env = child_environment(extra);
    std::vector<std::string> args = options.wrapper;
    for (const std::string& arg : {binary_.string(), std::string("-c"), config_path().string()}) args.push_back(arg);
    args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
    std::vector<char*> argv = pointers(args);
    std::vector<char*> envp = pointers(env);
    char* listen_pid = nullptr;
    for (char* e : envp)
        if (e != nullptr && std::strncmp(e, "LISTEN_PID=", 11) == 0) listen_pid = e + 11;

    // The server's stderr goes to a file: startup errors and any sanitizer report land
    // there, and the destructor fails the test if a report is found.
    UniqueFd stderr_file(::open((dir_.path() / "stderr.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        ::setpgid(0, 0);  // one group: the destructor can kill master and workers at once
        ::dup2(stderr_file.get(), 2);
        if (!sockets.empty()) {
            // Out of the way first (one may already sit at 3, 4 …), then into place:
            // dup2 to a different number clears close-on-exec on the copy.
            int high[16];
            const std::size_t count = std::min<std::size_t>(sockets.size(), 16);
            for (std::size_t i = 0; i < count; ++i) high[i] = ::fcntl(sockets[i].get(), F_DUPFD_CLOEXEC, 64);
            for (std::size_t i = 0; i < count; ++i) ::dup2(high[i], static_cast<int>(3 + i));
            put_pid(listen_pid, ::getpid());
        }
        if (options.nofile > 0) {  // after the sockets are in place: the limit may be below 64
            const rlimit limit{options.nofile, options.nofile};
            ::setrlimit(RLIMIT_NOFILE, &limit);
        }
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // also from the parent, so it holds whichever runs first
    group_ = pid_;
    sockets.clear();  // only the server holds the listening sockets now
    start_watchdog();
    if (options.wait_ready) {
        startup_ = wait_for_notification("READY=1");
        if (startup_.empty() || startup_.back().find("READY=1") == std::string::npos) {
            // No destructor runs for a constructor that throws: stop what was started here.
            const std::string why = "pywebd did not become ready; error log:\n" + error_log() + stderr_output();
            ::kill(-group_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            stop_watchdog();
            throw std::runtime_error(why);
        }
    }
}

ServerProcess::~ServerProcess() {
    if (pid_ > 0) stop(SIGTERM, std::chrono::seconds(15));
    if (pid_ > 0) {
        ::kill(-group_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    // Anything of ours still in the group (a worker that outlived its master) goes too.
    if (group_ > 1) ::kill(-group_, SIGKILL);
    stop_watchdog();
    const std::string errors = stderr_output();
    if (errors.find("Sanitizer") != std::string::npos || errors.find("runtime error:") != std::string::npos)
        ADD_FAILURE() << "pywebd reported a sanitizer error:\n" << errors;
}

// A test binary that dies (a ctest timeout, a crash) runs no destructor. The watchdog,
// a fork of the test that keeps nothing but a pipe's read end, kills the server's group
// when that pipe ends without a word (PR_SET_PDEATHSIG would not do: the server's
// credential changes clear it).
void ServerProcess::start_watchdog() {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) return;
    const pid_t watchdog = ::fork();
    if (watchdog == 0) {
        const int keep = ends[0];
        if (keep > 3) ::close_range(3, static_cast<unsigned>(keep) - 1, 0);  // nothing of the test stays open here
        ::close_range(static_cast<unsigned>(keep) + 1, ~0U, 0);
        char word = 0;
        ssize_t n;
        do n = ::read(keep, &word, 1);
        while (n < 0 && errno == EINTR);
        if (n == 0) ::kill(-group_, SIGKILL);  // the test is gone
        ::_exit(0);
    }
    ::close(ends[0]);
    if (watchdog < 0) {
        ::close(ends[1]);
        return;
    }
    watchdog_ = watchdog;
    watchdog_pipe_.reset(ends[1]);
}

// The server was stopped by the test: the watchdog leaves without killing anything.
void ServerProcess::stop_watchdog() {
    if (watchdog_ <= 0) return;
    const char word = 'x';
    static_cast<void>(::write(watchdog_pipe_.get(), &word, 1));
    watchdog_pipe_.reset();
    ::waitpid(watchdog_, nullptr, 0);
    watchdog_ = -1;
}

ClientTls ServerProcess::client_tls() const {
    ClientTls tls;
    if (pki_) tls.ca_file = pki_->ca_file();
    return tls;
}

HttpClient ServerProcess::connect(std::chrono::milliseconds timeout) const {
    return tls_ ? HttpClient(port(), client_tls(), timeout) : HttpClient(port(), "127.0.0.1", timeout);
}

std::optional<HttpResponse> ServerProcess::get(const std::string& target, const std::string& extra_fields) const {
    HttpClient client = connect();
    if (!client.connected()) return std::nullopt;
    return client.get(target, "Connection: close\r\n" + extra_fields);
}

std::string ServerProcess::url(const std::string& path) const {
    return (tls_ ? "https://localhost:" : "http://127.0.0.1:") + std::to_string(port()) + path;
}

std::vector<std::string> ServerProcess::curl_args() const {
    if (!tls_) return {};
    return {"--cacert", pki_->ca_file().string(), "--resolve", "localhost:" + std::to_string(port()) + ":127.0.0.1"};
}

std::string ServerProcess::stderr_output() const {
    std::ifstream in(dir_.path() / "stderr.log");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void ServerProcess::write(const std::string& relative, std::string_view content) const {
    const auto file = root() / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

void ServerProcess::write_config(const std::string& yaml) const { dir_.write("server.yaml", yaml); }

std::optional<std::string> ServerProcess::next_notification(std::chrono::milliseconds timeout) {
    pollfd p{notify_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    char buffer[4096];
    const ssize_t n = ::recv(notify_.get(), buffer, sizeof buffer, 0);
    if (n <= 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(n));
}

std::vector<std::string> ServerProcess::wait_for_notification(const std::string& text,
                                                              std::chrono::milliseconds timeout) {
    std::vector<std::string> seen;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        auto message = next_notification(left);
        if (!message) break;
        seen.push_back(*message);
        if (message->find(text) != std::string::npos) break;
    }
    return seen;
}

std::string read_proc_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    std::string out;
    char buffer[4096];
    ssize_t n;
    while (fd && (n = ::read(fd.get(), buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<std::size_t>(n));
    return out;
}

long cpu_ticks(pid_t pid) {
    const std::string content = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
    if (content.empty()) return 0;
    std::istringstream fields(content.substr(content.rfind(')') + 2));
    std::string skip;
    for (int i = 0; i < 11; ++i) fields >> skip;  // state … cmajflt
    long utime = 0, stime = 0;
    fields >> utime >> stime;
    return utime + stime;
}

long cpu_ticks_over(const std::vector<pid_t>& pids, std::chrono::milliseconds period) {
    long before = 0, after = 0;
    for (pid_t p : pids) before += cpu_ticks(p);
    std::this_thread::sleep_for(period);
    for (pid_t p : pids) after += cpu_ticks(p);
    return after - before;
}

bool wait_for_log(const ServerProcess& server, const std::string& text, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (server.error_log().find(text) == std::string::npos) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> out;
    const std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), ::closedir);
    if (!proc) return out;
    while (dirent* entry = ::readdir(proc.get())) {
        const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
        if (pid <= 0) continue;
        const std::string content = read_proc_file("/proc/" + std::string(entry->d_name) + "/stat");
        const auto close = content.rfind(')');  // the command name may hold spaces
        if (close == std::string::npos || close + 2 >= content.size()) continue;
        std::istringstream fields(content.substr(close + 2));
        char state = 0;
        pid_t ppid = 0;
        fields >> state >> ppid;
        if (ppid == parent && state != 'Z') out.push_back(pid);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<pid_t> ServerProcess::workers() const { return pid_ > 0 ? children_of(pid_) : std::vector<pid_t>{}; }

std::vector<pid_t> ServerProcess::wait_for_workers(std::size_t count, const std::vector<pid_t>& not_these,
                                                   std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::vector<pid_t> now;
    do {
        now = workers();
        const bool fresh = std::none_of(now.begin(), now.end(), [&](pid_t p) {
            return std::find(not_these.begin(), not_these.end(), p) != not_these.end();
        });
        if (now.size() == count && fresh) return now;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (Clock::now() < deadline);
    return now;
}

void ServerProcess::signal(int signo) const {
    if (pid_ > 0) ::kill(pid_, signo);
}

int ServerProcess::stop(int signo, std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, signo);
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        int status = 0;
        const pid_t done = ::waitpid(pid_, &status, WNOHANG);
        if (done == pid_) {
            pid_ = -1;
            return status;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return -1;
}

std::string ServerProcess::error_log() const {
    std::ifstream in(error_log_path());
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

RunResult run_pywebd(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    std::vector<std::string> all = {server_binary()};
    all.insert(all.end(), args.begin(), args.end());
    return run_program(all, timeout);
}

RunResult run_program(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                      const std::string& input) {
    int pipe_fds[2], input_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0 || ::pipe2(input_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    UniqueFd read_end(pipe_fds[0]);
    UniqueFd write_end(pipe_fds[1]);
    UniqueFd input_read(input_fds[0]);
    UniqueFd input_write(input_fds[1]);
    std::vector<std::string> all = args;
    std::vector<std::string> env = child_environment({});
    std::vector<char*> argv = pointers(all);
    std::vector<char*> envp = pointers(env);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::setpgid(0, 0);
        ::dup2(input_read.get(), 0);
        ::dup2(write_end.get(), 1);
        ::dup2(write_end.get(), 2);
        ::execvpe(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    write_end.reset();
    input_read.reset();
    // Small inputs only (a request or two): they fit the pipe, so this never blocks.
    if (!input.empty()) static_cast<void>(::write(input_write.get(), input.data(), input.size()));
    input_write.reset();
    RunResult result;
    const auto deadline = Clock::now() + timeout;
    char buffer[4096];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        pollfd p{read_end.get(), POLLIN, 0};
        if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) break;
        const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
        if (n <= 0) break;
        result.output.append(buffer, static_cast<std::size_t>(n));
    }
    // The output closed; the process may still be on its way out.
    int status = 0;
    pid_t done = 0;
    while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (done != pid) {
        ::kill(-pid, SIGKILL);  // still running: it should not have been
        ::waitpid(pid, &status, 0);
        return result;
    }
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

namespace {

// Socket inodes of server ends in /proc/net/tcp{,6} whose remote port is `client_port`.
std::vector<unsigned long> server_inodes_for(std::uint16_t client_port) {
    std::vector<unsigned long> out;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::istringstream in(read_proc_file(table));
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
            unsigned long inode = 0;
            fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
            const auto colon = remote.rfind(':');
            if (colon == std::string::npos) continue;
            if (std::stoul(remote.substr(colon + 1), nullptr, 16) == client_port && inode != 0) out.push_back(inode);
        }
    }
    return out;
}

bool holds_socket(pid_t pid, unsigned long inode) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    const std::string wanted = "socket:[" + std::to_string(inode) + "]";
    const std::unique_ptr<DIR, int (*)(DIR*)> fds(::opendir(dir.c_str()), ::closedir);
    if (!fds) return false;
    bool found = false;
    while (dirent* entry = ::readdir(fds.get())) {
        char target[128] = {};
        const std::string link = dir + "/" + entry->d_name;
        const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
        if (n > 0 && wanted == target) found = true;
    }
    return found;
}

}  // namespace

std::optional<pid_t> owner_of_connection(int client_fd, const std::vector<pid_t>& candidates) {
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    ::getsockname(client_fd, reinterpret_cast<sockaddr*>(&local), &length);
    const std::uint16_t port = local.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port)
                                                           : ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
    for (unsigned long inode : server_inodes_for(port))
        for (pid_t pid : candidates)
            if (holds_socket(pid, inode)) return pid;
    return std::nullopt;
}

}  // namespace pywebd::test
