#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pywebd {

struct CliOptions {
    std::optional<std::string> config_file;
    std::optional<std::uint16_t> port;
    std::optional<std::string> root;
    std::optional<unsigned> workers;
    std::optional<std::string> user;
    bool test_config = false;
    std::vector<std::string> args;  // as given (without argv[0]): what an in-place upgrade runs again
};

// The outcome of reading the command line: options to run with, or text to print and
// an exit status (help and version exit 0; a bad argument exits 2 with usage).
struct CliResult {
    std::optional<CliOptions> options;
    std::string output;
    int exit_status = 0;
};

CliResult parse_command_line(const std::vector<std::string>& args);  // args without argv[0]

}  // namespace pywebd
