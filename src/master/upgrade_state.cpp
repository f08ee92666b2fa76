#include "upgrade_state.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <climits>

namespace pywebd {
namespace {

template <typename Number>
bool number_in(std::string_view text, Number& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

// "a,b,c" into its fields.
std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> out;
    for (std::size_t at = 0;;) {
        const auto next = text.find(separator, at);
        out.push_back(text.substr(at, next - at));
        if (next == std::string_view::npos) return out;
        at = next + 1;
    }
}

bool descriptor_in(std::string_view text, int& fd) { return number_in(text, fd) && fd >= 0; }

}  // namespace

// "format=1 master=99 activated=0 generation=3 metrics=5 socket=6,plain socket=7,admin
//  worker=1234,2,0,0,9,ready" (worker: pid, generation, slot, metrics slot, channel,
//  state: starting, ready or quitting).
std::string UpgradeState::encode() const {
    std::string out = fmt::format("format={} master={} activated={} generation={} metrics={}", kFormat, master,
                                  socket_activated ? 1 : 0, next_generation, metrics_fd);
    for (const Socket& s : sockets)
        out += fmt::format(" socket={},{}", s.fd, s.admin ? "admin" : s.inherited ? "inherited" : "plain");
    for (const Worker& w : workers)
        out += fmt::format(" worker={},{},{},{},{},{}", w.pid, w.generation, w.slot, w.metrics_slot, w.channel,
                           w.quitting ? "quitting"
                           : w.ready  ? "ready"
                                      : "starting");
    return out;
}

std::optional<UpgradeState> UpgradeState::decode(std::string_view text, std::string& error) {
    UpgradeState state;
    bool format_seen = false;
    for (std::string_view item : split(text, ' ')) {
        const auto equals = item.find('=');
        const std::string_view key = item.substr(0, equals);
        const std::string_view value = equals == std::string_view::npos ? std::string_view() : item.substr(equals + 1);
        const auto fields = split(value, ',');
        bool ok = equals != std::string_view::npos;
        int format = 0;
        if (!ok) {
        } else if (key == "format") {
            ok = number_in(value, format) && format == kFormat;
            format_seen = ok;
        } else if (key == "master") {
            ok = number_in(value, state.master) && state.master > 0;
        } else if (key == "activated") {
            ok = value == "0" || value == "1";
            state.socket_activated = value == "1";
        } else if (key == "generation") {
            ok = number_in(value, state.next_generation) && state.next_generation > 0;
        } else if (key == "metrics") {
            ok = descriptor_in(value, state.metrics_fd);
        } else if (key == "socket") {
            Socket s;
            ok = fields.size() == 2 && descriptor_in(fields[0], s.fd) &&
                 (fields[1] == "plain" || fields[1] == "inherited" || fields[1] == "admin");
            s.inherited = fields.size() == 2 && fields[1] == "inherited";
            s.admin = fields.size() == 2 && fields[1] == "admin";
            state.sockets.push_back(s);
        } else if (key == "worker") {
            Worker w;
            ok = fields.size() == 6 && number_in(fields[0], w.pid) && w.pid > 0 && number_in(fields[1], w.generation) &&
                 number_in(fields[2], w.slot) && number_in(fields[3], w.metrics_slot) &&
                 descriptor_in(fields[4], w.channel) &&
                 (fields[5] == "starting" || fields[5] == "ready" || fields[5] == "quitting");
            w.ready = ok && fields[5] != "starting";
            w.quitting = ok && fields[5] == "quitting";
            state.workers.push_back(w);
        } else {
            ok = false;
        }
        if (!ok) {
            error = fmt::format("{}: '{}' is not understood (format {} expected)", kUpgradeEnvironment, item, kFormat);
            return std::nullopt;
        }
    }
    if (!format_seen || state.master == 0 || state.metrics_fd < 0 || state.sockets.empty()) {
        error = fmt::format("{}: incomplete (format, master, metrics and a socket are needed)", kUpgradeEnvironment);
        return std::nullopt;
    }
    std::vector<int> fds = state.fds();
    std::sort(fds.begin(), fds.end());
    if (fds.front() <= 2 || std::adjacent_find(fds.begin(), fds.end()) != fds.end()) {
        error = fmt::format("{}: a descriptor is standard input or output, or named twice", kUpgradeEnvironment);
        return std::nullopt;
    }
    return state;
}

std::vector<int> UpgradeState::fds() const {
    std::vector<int> out{metrics_fd};
    for (const Socket& s : sockets) out.push_back(s.fd);
    for (const Worker& w : workers) out.push_back(w.channel);
    return out;
}

ExecutableFile ExecutableFile::of_this_process() {
    ExecutableFile file;
    char path[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    if (n > 0) file.path.assign(path, static_cast<std::size_t>(n));
    struct stat st {};
    if (n > 0 && ::stat("/proc/self/exe", &st) == 0) {
        file.device = st.st_dev;
        file.inode = st.st_ino;
        file.known = true;
    }
    return file;
}

bool ExecutableFile::replaced_on_disk() const {
    struct stat st {};
    if (!known || ::stat(path.c_str(), &st) != 0) return false;  // gone: nothing to upgrade to
    return st.st_dev != device || st.st_ino != inode;
}

}  // namespace pywebd
