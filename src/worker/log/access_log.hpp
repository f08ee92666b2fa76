#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "net/peer_address.hpp"
#include "unique_fd.hpp"

namespace pywebd {

struct AccessEntry {
    const PeerAddress& peer;
    std::time_t time;
    std::string_view request_line;
    std::uint16_t status;
    std::uint64_t body_bytes;  // sent, not planned
    std::string_view referer;
    std::string_view user_agent;
    bool with_tls = false;  // tls.log_protocol: two more fields, the protocol and cipher ("-" over plain)
    std::string_view tls_protocol;
    std::string_view tls_cipher;
};

// A worker's access log in the combined format (with tls.log_protocol, two fields after
// it: "TLSv1.3 TLS_AES_128_GCM_SHA256", or "- -" for plain HTTP), buffered and written
// in blocks of whole lines with O_APPEND, so workers sharing one file never split each
// other's lines.
// Client-supplied text is escaped (\", \\, \xHH), so a request cannot forge a line.
class AccessLog {
public:
    static constexpr std::size_t kFlushAt = 32 * 1024;

    bool enabled() const { return fd_.valid(); }
    // Flushes to the current file, then continues in `fd` (after a log rotation).
    void reopen(UniqueFd fd);
    void add(const AccessEntry& entry);
    void flush();  // the worker calls this at least once a second and before exit

private:
    void append_escaped(std::string_view text);
    void append_time(std::time_t t);

    UniqueFd fd_;
    std::string buffer_;
    std::time_t cached_second_ = -1;
    char cached_time_[32] = {};
    std::size_t cached_time_length_ = 0;
};

}  // namespace pywebd
