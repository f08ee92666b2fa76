#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http_client.hpp"
#include "temp_dir.hpp"
#include "test_pki.hpp"
#include "unique_fd.hpp"

namespace pywebd::test {

// Where the test binary finds the server under test.
std::string server_binary();

struct ServerOptions {
    // The config body; root, error_log and workers are added unless present. {port0},
    // {port1} … stand for the ports of the sockets passed by activation; {cert}, {key}
    // and {ca} for a test CA's certificate chain for "localhost", its key (0600) and the
    // CA, made when the yaml names one of them or `tls` is set.
    std::string yaml;
    unsigned workers = 2;
    bool socket_activation = true;  // pass bound 127.0.0.1 sockets from fd 3 on (LISTEN_FDS)
    unsigned sockets = 1;           // how many
    // The first socket is a TLS listener with the test certificate (a listen entry and a
    // tls section are added unless the yaml has them).
    bool tls = false;
    // The first socket is a plain listener that also takes h2c with prior knowledge.
    bool h2c = false;
    std::vector<std::string> wrapper;  // a command pywebd runs under (setpriv …), its absolute path first
    std::vector<std::string> extra_args;
    std::vector<std::string> env;  // extra NAME=value entries
    bool wait_ready = true;
    unsigned nofile = 0;  // when set: RLIMIT_NOFILE (soft and hard) of the server
    // Runs a copy of the binary in the temp directory (binary_path()), which a test may
    // replace (an in-place upgrade).
    bool copy_binary = false;
    // Runs on the temp directory after the config is written, before the server starts.
    std::function<void(const std::filesystem::path&)> before_start;
};

// The real pywebd binary on loopback, in its own temp directory and process group,
// with a NOTIFY_SOCKET the test reads. The destructor always stops it: SIGTERM, then
// SIGKILL to the whole group, so a failing test never leaves a server behind.
class ServerProcess {
public:
    explicit ServerProcess(ServerOptions options = {});
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    const TempDir& dir() const { return dir_; }
    std::filesystem::path root() const { return dir_.path() / "root"; }
    std::filesystem::path config_path() const { return dir_.path() / "server.yaml"; }
    std::filesystem::path error_log_path() const { return dir_.path() / "error.log"; }
    std::filesystem::path binary_path() const { return binary_; }
    std::uint16_t port(std::size_t socket = 0) const { return ports_.at(socket); }
    bool tls() const { return tls_; }
    // How a client trusts this server's test certificate (ca_file is empty without one).
    ClientTls client_tls() const;
    // A connection to the first socket, over TLS when it is a TLS listener.
    HttpClient connect(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    // One GET on a fresh connection to the first socket, with "Connection: close".
    std::optional<HttpResponse> get(const std::string& target, const std::string& extra_fields = "") const;
    // The URL of `path` on the first socket, and the curl arguments that trust it.
    std::string url(const std::string& path) const;
    std::vector<std::string> curl_args() const;
    TestPki* pki() const { return pki_.get(); }
    const LeafFiles& certificate() const { return leaf_; }
    // The notifications read while waiting for readiness.
    const std::vector<std::string>& startup_notifications() const { return startup_; }
    pid_t pid() const { return pid_; }

    // Writes a file under the document root.
    void write(const std::string& relative, std::string_view content) const;
    // Writes an empty file under the document root and returns its path.
    std::filesystem::path write_path(const std::string& relative) const {
        write(relative, {});
        return root() / relative;
    }
    void write_config(const std::string& yaml) const;

    // The next sd_notify datagram, or nullopt after `timeout`.
    std::optional<std::string> next_notification(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Waits for a notification containing `text`; returns every one seen meanwhile.
    std::vector<std::string> wait_for_notification(const std::string& text,
                                                   std::chrono::milliseconds timeout = std::chrono::seconds(15));

    std::vector<pid_t> workers() const;  // live children of the master
    // Polls until the worker set satisfies `count` and differs from `before`, or times out.
    std::vector<pid_t> wait_for_workers(std::size_t count, const std::vector<pid_t>& not_these,
                                        std::chrono::milliseconds timeout);

    void signal(int signo) const;
    // Signals, then waits for the master to exit; returns its wait status (or -1 on timeout).
    int stop(int signo = 15, std::chrono::milliseconds timeout = std::chrono::seconds(20));
    bool running() const { return pid_ > 0; }
    std::string error_log() const;
    std::string stderr_output() const;

private:
    std::string expand(std::string yaml, bool tls, bool h2c);
    void start_watchdog();
    void stop_watchdog();

    TempDir dir_;
    std::filesystem::path binary_;
    UniqueFd notify_;
    std::vector<std::string> startup_;
    std::vector<std::uint16_t> ports_;
    bool tls_ = false;
    std::unique_ptr<TestPki> pki_;
    LeafFiles leaf_;
    pid_t pid_ = -1;    // the master while it runs, else -1
    pid_t group_ = -1;  // its process group, kept after it exits for the final sweep
    pid_t watchdog_ = -1;
    UniqueFd watchdog_pipe_;  // its write end: closed without a word when the test dies
};

// Runs pywebd to completion (for -t, bad arguments, startup failures) with a time limit.
struct RunResult {
    int status = -1;     // exit status, or -1 if killed
    std::string output;  // stdout and stderr together
};
RunResult run_pywebd(const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
// Runs any program (found on PATH) the same way, with `input` on its stdin.
RunResult run_program(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                      const std::string& input = "");

// The content of a small file such as /proc/<pid>/stat; empty if it cannot be read
// (a process may exit while we look, and that is not an error).
std::string read_proc_file(const std::string& path);

// utime + stime of a process in clock ticks (10 ms), 0 if it is gone.
long cpu_ticks(pid_t pid);
// The CPU ticks `pids` spend together over `period`.
long cpu_ticks_over(const std::vector<pid_t>& pids, std::chrono::milliseconds period);

// Polls the server's error log until it contains `text`; false after `timeout`.
bool wait_for_log(const ServerProcess& server, const std::string& text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Children of `pid` read from /proc (no CONFIG_PROC_CHILDREN needed).
std::vector<pid_t> children_of(pid_t pid);

// The process (among `candidates`) holding the server end of the TCP connection whose
// client end is `client_fd`.
std::optional<pid_t> owner_of_connection(int client_fd, const std::vector<pid_t>& candidates);

}  // namespace pywebd::test
