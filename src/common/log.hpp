#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "identity.hpp"
#include "unique_fd.hpp"

namespace pywebd {

// Client faults are Info, lifecycle events Notice, limits Warn, our own failures Error,
// broken invariants Crit (nginx's scheme: the default level hides client noise).
enum class LogLevel : std::uint8_t { Debug, Info, Notice, Warn, Error, Crit };

std::string_view to_string(LogLevel level);
std::optional<LogLevel> parse_log_level(std::string_view text);

// The error log of one process. Lines are written whole with one write(2), so lines
// from master and workers sharing a file or a pipe never interleave. Under systemd
// (stderr connected to the journal) lines carry a <N> priority prefix and no timestamp.
class Logger {
public:
    explicit Logger(std::string role);

    void set_role(std::string role) { role_ = std::move(role); }
    void set_level(LogLevel level) { level_ = level; }
    LogLevel level() const { return level_; }

    // "stderr" or a file path, opened for append (as `as`, the workers' identity, by a
    // root master: see open_log_file). Returns an error text on failure and keeps the
    // current destination.
    std::optional<std::string> open(const std::string& destination, const Identity* as = nullptr);
    // Opens the same path again (after logrotate moved it). No-op for stderr.
    std::optional<std::string> reopen();
    // Writes to `fd` from now on (a worker receiving the master's reopened log).
    void adopt(UniqueFd fd) { file_ = std::move(fd); }
    // The descriptor lines go to (2 for stderr); a forked worker keeps it open.
    int fd() const { return file_.valid() ? file_.get() : 2; }
    const std::string& path() const { return path_; }

    bool enabled(LogLevel level) const { return level >= level_; }

    template <typename... Args>
    void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
        if (!enabled(level)) return;
        write_line(level, fmt::vformat(format, fmt::make_format_args(args...)));
    }
    template <typename... Args>
    void debug(fmt::format_string<Args...> f, Args&&... a) {
        log(LogLevel::Debug, f, std::forward<Args>(a)...);
    }
    template <typename... Args>
    void info(fmt::format_string<Args...> f, Args&&... a) {
        log(LogLevel::Info, f, std::forward<Args>(a)...);
    }
    template <typename... Args>
    void notice(fmt::format_string<Args...> f, Args&&... a) {
        log(LogLevel::Notice, f, std::forward<Args>(a)...);
    }
    template <typename... Args>
    void warn(fmt::format_string<Args...> f, Args&&... a) {
        log(LogLevel::Warn, f, std::forward<Args>(a)...);
    }
    template <typename... Args>
    void error(fmt::format_string<Args...> f, Args&&... a) {
        log(LogLevel::Error, f, std::forward<Args>(a)...);
    }
    template <typename... Args>
    void crit(fmt::format_string<Args...> f, Args&&... a) {
        log(LogLevel::Crit, f, std::forward<Args>(a)...);
    }

private:
    void write_line(LogLevel level, std::string_view message);

    std::string role_;
    LogLevel level_ = LogLevel::Notice;
    std::string path_;            // empty: stderr
    std::optional<Identity> as_;  // who opens path_ (reopen does the same)
    UniqueFd file_;
    bool journal_ = false;
};

}  // namespace pywebd
