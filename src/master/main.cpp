#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "capabilities.hpp"
#include "cli.hpp"
#include "effective_config.hpp"
#include "exit_code.hpp"
#include "identity.hpp"
#include "listeners.hpp"
#include "log.hpp"
#include "master.hpp"
#include "upgrade_state.hpp"

using namespace pywebd;

namespace {

// Startup errors go to stderr as well as the error log: whoever started pywebd by hand
// or through systemd (which captures stderr) sees why it did not start.
int fail(Logger& log, const std::string& message) {
    if (!log.path().empty()) log.crit("{}", message);
    std::fprintf(stderr, "pywebd: %s\n", message.c_str());
    return static_cast<int>(ExitCode::Failure);
}

// What a running master handed this image for an in-place upgrade (or for the trial
// start it makes first: `trial`), checked: made for this process (a stray variable in a
// fresh start's environment is ignored, with `warning` set), channels that are unix
// sockets, workers that are our children. Nullopt with `error` set if it is unusable.
std::optional<UpgradeState> upgrade_handed_over(bool& trial, std::string& warning, std::string& error) {
    const char* text = std::getenv(kUpgradeEnvironment);
    // A trial is started by a running master (never PID 1's child) with both variables.
    trial = text != nullptr && std::getenv(kUpgradeTrialEnvironment) != nullptr && ::getppid() != 1;
    const std::string copy = text != nullptr ? text : "";
    ::unsetenv(kUpgradeEnvironment);  // not for the workers, nor for a later upgrade
    ::unsetenv(kUpgradeTrialEnvironment);
    if (text == nullptr) return std::nullopt;
    auto state = UpgradeState::decode(copy, error);
    if (!state) return std::nullopt;
    const pid_t expected = trial ? ::getppid() : ::getpid();
    const auto unclaimed = [](int fd) { ::fcntl(fd, F_SETFD, FD_CLOEXEC); };  // not carried into later execs
    if (state->master != expected) {
        warning = fmt::format("{} names process {}, not this one: ignored", kUpgradeEnvironment, state->master);
        for (int fd : state->fds()) unclaimed(fd);
        return std::nullopt;
    }
    for (const UpgradeState::Worker& w : state->workers)
        if (::sd_is_socket(w.channel, AF_UNIX, SOCK_SEQPACKET, -1) <= 0) {
            error =
                fmt::format("{}: worker {}'s channel {} is not a unix socket", kUpgradeEnvironment, w.pid, w.channel);
            return std::nullopt;
        }
    if (!trial)  // the trial's parent is the master: the workers are its siblings
        std::erase_if(state->workers, [&](const UpgradeState::Worker& w) {
            siginfo_t info{};
            const bool ours = ::waitid(P_PID, static_cast<id_t>(w.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0;
            if (!ours) {
                warning = fmt::format("{}: process {} is not our child: not adopted", kUpgradeEnvironment, w.pid);
                unclaimed(w.channel);
            }
            return !ours;
        });
    return state;
}

}  // namespace

int main(int argc, char** argv) {
    const CliResult cli = parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
    if (!cli.options) {
        std::fputs(cli.output.c_str(), cli.exit_status == 0 ? stdout : stderr);
        return cli.exit_status;
    }
    const CliOptions& options = *cli.options;
    // Not fatal: the master then keeps CAP_DAC_READ_SEARCH effective throughout.
    if (const auto error = master_capabilities())
        std::fprintf(stderr, "pywebd: warning: cannot lower the master's capabilities: %s\n", error->c_str());
    const std::string source = options.config_file.value_or("(built-in defaults)");
    Config config;
    try {
        config = load_effective_config(options);
    } catch (const ConfigError& error) {
        for (const std::string& line : error.errors()) std::fprintf(stderr, "pywebd: %s\n", line.c_str());
        if (options.test_config) std::fprintf(stderr, "pywebd: configuration %s test failed\n", source.c_str());
        return static_cast<int>(ExitCode::Failure);
    }
    for (const std::string& warning : config.warnings) std::fprintf(stderr, "pywebd: warning: %s\n", warning.c_str());
    if (options.test_config) {
        std::printf("pywebd: configuration %s syntax is ok\npywebd: configuration %s test is successful\n",
                    source.c_str(), source.c_str());
        return 0;
    }

    Logger log("master");
    log.set_level(config.log_level);
    std::string user_error;
    const auto workers = resolve_identity(config.user, config.group, user_error);
    if (!workers) return fail(log, user_error);
    // As the workers: the master may be root, and the log's path theirs to change.
    if (const auto error = log.open(config.error_log, &*workers)) return fail(log, *error);
    raise_fd_limit(config, log);
    if (!log.path().empty())  // on stderr they were already said
        for (const std::string& warning : config.warnings) log.warn("{}", warning);

    bool trial = false;
    std::string upgrade_warning, upgrade_error;
    auto upgrade = upgrade_handed_over(trial, upgrade_warning, upgrade_error);
    if (!upgrade_warning.empty()) log.warn("{}", upgrade_warning);
    if (!upgrade_error.empty()) return fail(log, "cannot take over from the running version: " + upgrade_error);
    if (trial && !upgrade) return fail(log, "a trial start needs the running version's state");
    if (trial) log.set_level(LogLevel::Error);  // it says nothing unless it fails
    try {
        if (upgrade) {
            std::vector<ListenSocket> passed;
            for (const UpgradeState::Socket& s : upgrade->sockets)
                passed.push_back(adopt_listener(s.fd, s.inherited, s.admin));
            const bool activated = upgrade->socket_activated;
            Master master(options, std::move(config), std::move(passed), activated, log, std::move(upgrade));
            return trial ? 0 : master.run();
        }
        std::vector<ListenSocket> listeners = inherited_listeners();
        const bool activated = !listeners.empty();
        if (!activated) listeners = bind_all(config, log);
        if (listeners.empty()) return fail(log, "no address to listen on");
        Master master(options, std::move(config), std::move(listeners), activated, log);
        return master.run();
    } catch (const BindError& error) {
        return fail(log, error.what());
    } catch (const std::exception& error) {
        return fail(log, error.what());
    }
}
