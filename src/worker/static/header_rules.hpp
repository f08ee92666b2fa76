#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "http/field_block.hpp"

namespace pywebd {

// The operator's per-path response fields (config `headers`), prepared once. For a
// served file, every matching rule applies in order: its `add` fields accumulate, and a
// later rule's cache_control or expires replaces an earlier one's.
class HeaderRules {
public:
    HeaderRules() = default;
    explicit HeaderRules(const std::vector<HeaderRule>& rules);

    // Appends the fields for `path` (the normalised request path; `directory` when it
    // named a directory, "/docs/") serving `file_name`, except Expires, which depends on
    // the time of each response: its offset in seconds is returned (-1: none).
    long long write(std::string_view path, bool directory, std::string_view file_name, http::FieldBlock& out) const;
    // Expires: now + seconds, when seconds >= 0.
    static void write_expires(long long seconds, std::time_t now, http::FieldBlock& out);

private:
    struct Rendered {
        std::string path_prefix;
        std::string extension;
        std::string cache_control;  // the value, or empty
        long long expires_seconds = -1;
        std::vector<std::pair<std::string, std::string>> fields;  // added as they are
    };
    std::vector<Rendered> rules_;
};

}  // namespace pywebd
