#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.hpp"

namespace pywebd::http {

// Response fields as a protocol sends them. The HTTP/1 text ("Name: value\r\n" …) is the
// storage, built as fields are added, so HTTP/1 sends a block with one copy; protocols
// that send fields one by one (HTTP/2's HPACK) read them as (name, value) pairs located
// in that text. Blocks that stay the same for a while (a cached file's fields, Server
// and Date) are built once and shared by every response that uses them.
class FieldBlock {
public:
    void add(std::string_view name, std::string_view value);
    void add(std::string_view name, std::uint64_t value);
    void add_date(std::string_view name, std::time_t t);  // IMF-fixdate
    void add_content_range(std::uint64_t first, std::uint64_t last, std::uint64_t size);
    void add_all(const FieldBlock& other);
    void clear();

    std::string_view h1_text() const { return text_; }
    std::size_t size() const { return entries_.size(); }
    Header operator[](std::size_t i) const;
    bool empty() const { return entries_.empty(); }

private:
    struct Entry {  // offsets into text_, which may move as it grows
        std::uint32_t name;
        std::uint32_t name_length;
        std::uint32_t value;
        std::uint32_t value_length;
    };
    std::string text_;
    std::vector<Entry> entries_;
};

// "bytes first-last/size" (RFC 9110 §14.4) into `out` (at least 68 bytes); returns its length.
std::size_t format_content_range(std::uint64_t first, std::uint64_t last, std::uint64_t size, char* out);

}  // namespace pywebd::http
