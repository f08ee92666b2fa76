#include "log/access_log.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "strings.hpp"

namespace pywebd {

void AccessLog::reopen(UniqueFd fd) {
    flush();
    fd_ = std::move(fd);
}

void AccessLog::append_escaped(std::string_view text) {
    if (text.empty()) {
        buffer_.push_back('-');
        return;
    }
    append_log_escaped(buffer_, text);
}

void AccessLog::append_time(std::time_t t) {
    if (t != cached_second_) {
        std::tm tm{};
        ::gmtime_r(&t, &tm);
        cached_time_length_ = std::strftime(cached_time_, sizeof cached_time_, "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
        cached_second_ = t;
    }
    buffer_.append(cached_time_, cached_time_length_);
}

void AccessLog::add(const AccessEntry& e) {
    if (!enabled()) return;
    char address[INET6_ADDRSTRLEN];
    buffer_.append(e.peer.format(address)).append(" - - ");
    append_time(e.time);
    buffer_.append(" \"");
    append_escaped(e.request_line);
    buffer_.append("\" ");
    char number[20];
    buffer_.append(number, static_cast<std::size_t>(std::to_chars(number, number + 20, e.status).ptr - number));
    buffer_.push_back(' ');
    buffer_.append(number, static_cast<std::size_t>(std::to_chars(number, number + 20, e.body_bytes).ptr - number));
    buffer_.append(" \"");
    append_escaped(e.referer);
    buffer_.append("\" \"");
    append_escaped(e.user_agent);
    buffer_.push_back('"');
    if (e.with_tls) {
        buffer_.push_back(' ');
        append_escaped(e.tls_protocol);
        buffer_.push_back(' ');
        append_escaped(e.tls_cipher);
    }
    buffer_.push_back('\n');
    if (buffer_.size() >= kFlushAt) flush();
}

void AccessLog::flush() {
    std::size_t done = 0;
    while (done < buffer_.size() && fd_.valid()) {
        const ssize_t n = ::write(fd_.get(), buffer_.data() + done, buffer_.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // disk full or the like: drop this block rather than stall serving
        done += static_cast<std::size_t>(n);
    }
    buffer_.clear();
}

}  // namespace pywebd
