#pragma once

#include <charconv>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "http/http_date.hpp"
#include "http/status.hpp"

namespace pywebd::h1 {

// Appends a response head to a reused string: no formatting library, no temporaries.
class HeadWriter {
public:
    explicit HeadWriter(std::string& out) : out_(out) {}

    HeadWriter& status_line(std::uint16_t status) {
        out_.append("HTTP/1.1 ");
        number(status);
        out_.push_back(' ');
        out_.append(http::reason_phrase(status));
        out_.append("\r\n");
        return *this;
    }
    HeadWriter& field(std::string_view name, std::string_view value) {
        out_.append(name).append(": ").append(value).append("\r\n");
        return *this;
    }
    HeadWriter& field(std::string_view name, std::uint64_t value) {
        out_.append(name).append(": ");
        number(value);
        out_.append("\r\n");
        return *this;
    }
    HeadWriter& date_field(std::string_view name, std::time_t t) {
        char date[http::kHttpDateLength];
        return field(name, std::string_view(date, http::format_http_date(t, date)));
    }
    // "bytes first-last/size"
    HeadWriter& content_range(std::uint64_t first, std::uint64_t last, std::uint64_t size) {
        out_.append("Content-Range: bytes ");
        number(first);
        out_.push_back('-');
        number(last);
        out_.push_back('/');
        number(size);
        out_.append("\r\n");
        return *this;
    }
    void end() { out_.append("\r\n"); }
    void number(std::uint64_t value) {
        char digits[20];
        const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
        out_.append(digits, static_cast<std::size_t>(end - digits));
    }

private:
    std::string& out_;
};

}  // namespace pywebd::h1
