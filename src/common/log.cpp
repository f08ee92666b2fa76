#include "log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "log_file.hpp"

namespace pywebd {
namespace {

constexpr std::array<std::string_view, 6> kLevelNames = {"debug", "info", "notice", "warn", "error", "crit"};
// syslog priorities for the journal's <N> prefix.
constexpr std::array<int, 6> kJournalPriority = {7, 6, 5, 4, 3, 2};

// systemd sets JOURNAL_STREAM=dev:ino when stderr is connected to the journal.
bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr) return false;
    struct stat st {};
    if (::fstat(2, &st) != 0) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
    return st.st_dev == dev && st.st_ino == ino;
}

std::string utc_timestamp() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    std::tm tm{};
    ::gmtime_r(&now.tv_sec, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
}

}  // namespace

std::string_view to_string(LogLevel level) { return kLevelNames[static_cast<std::size_t>(level)]; }

std::optional<LogLevel> parse_log_level(std::string_view text) {
    for (std::size_t i = 0; i < kLevelNames.size(); ++i)
        if (kLevelNames[i] == text) return static_cast<LogLevel>(i);
    return std::nullopt;
}

Logger::Logger(std::string role) : role_(std::move(role)), journal_(stderr_is_journal()) {}

std::optional<std::string> Logger::open(const std::string& destination, const Identity* as) {
    if (destination == "stderr") {
        file_.reset();
        path_.clear();
        return std::nullopt;
    }
    OpenedLog opened = open_log_file(destination, as);
    if (!opened.fd) return "cannot open error log " + opened.error;
    file_ = std::move(opened.fd);
    path_ = destination;
    as_ = as ? std::optional<Identity>(*as) : std::nullopt;
    return std::nullopt;
}

std::optional<std::string> Logger::reopen() {
    if (path_.empty()) return std::nullopt;
    const std::string path = path_;
    const std::optional<Identity> as = as_;
    return open(path, as ? &*as : nullptr);
}

void Logger::write_line(LogLevel level, std::string_view message) {
    const auto index = static_cast<std::size_t>(level);
    std::string line;
    if (journal_ && !file_.valid())
        line = fmt::format("<{}>{}: {}\n", kJournalPriority[index], role_, message);
    else
        line =
            fmt::format("{} [{}] pywebd[{}] {}: {}\n", utc_timestamp(), kLevelNames[index], ::getpid(), role_, message);
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t n = ::write(fd(), p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // nowhere left to report a failing log
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace pywebd
