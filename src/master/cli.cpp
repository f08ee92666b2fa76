#include "cli.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "exit_code.hpp"
#include "version.hpp"

namespace pywebd {

CliResult parse_command_line(const std::vector<std::string>& args) {
    CLI::App app{"pywebd: a static-file HTTP/1.1, HTTP/2 and HTTPS server (prefork, epoll, systemd-native)", "pywebd"};
    app.set_version_flag("--version", std::string("pywebd ") + kVersion);
    app.footer(
        "With no options pywebd serves ./static on port 8888.\n"
        "Signals: HUP reload (an in-place upgrade when the binary changed), USR2 in-place upgrade,\n"
        "TERM/QUIT graceful stop, INT fast stop, USR1 reopen logs.");

    CliOptions options;
    // Read as int so that 70000 gets a range message rather than a conversion error.
    std::optional<int> positional_port;
    std::optional<int> flag_port;
    app.add_option("PORT", positional_port, "port to listen on (same as --port)")->check(CLI::Range(0, 65535));
    app.add_option("-p,--port", flag_port, "port to listen on, replacing the config's")->check(CLI::Range(0, 65535));
    app.add_option("-c,--config", options.config_file, "YAML configuration file")->check(CLI::ExistingFile);
    app.add_option("-r,--root", options.root, "document root, replacing the config's");
    app.add_option("-w,--workers", options.workers, "worker processes, replacing the config's")
        ->check(CLI::Range(1, 1024));
    app.add_option("-u,--user", options.user, "user the workers run as when started as root (root: allow root)");
    app.add_flag("-t,--test", options.test_config, "check the configuration and exit (0: valid, 1: not)");

    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes from the back
    try {
        app.parse(reversed);
        if (positional_port && flag_port)
            throw CLI::ValidationError("PORT", "the port is given twice (PORT and --port)");
    } catch (const CLI::CallForHelp&) {
        return {std::nullopt, app.help(), 0};
    } catch (const CLI::CallForVersion&) {
        return {std::nullopt, std::string("pywebd ") + kVersion + "\n", 0};
    } catch (const CLI::ParseError& error) {
        return {std::nullopt, fmt::format("pywebd: {}\ntry 'pywebd --help' for the options\n", error.what()),
                static_cast<int>(ExitCode::Usage)};
    }
    if (const auto port = positional_port ? positional_port : flag_port)
        options.port = static_cast<std::uint16_t>(*port);
    options.args = args;
    return {options, "", 0};
}

}  // namespace pywebd
