#include <cstdio>
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

using namespace pywebd;

namespace {

// Startup errors go to stderr as well as the error log: whoever started pywebd by hand
// or through systemd (which captures stderr) sees why it did not start.
int fail(Logger& log, const std::string& message) {
    if (!log.path().empty()) log.crit("{}", message);
    std::fprintf(stderr, "pywebd: %s\n", message.c_str());
    return static_cast<int>(ExitCode::Failure);
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

    try {
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
