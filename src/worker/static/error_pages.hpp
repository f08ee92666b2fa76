#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pywebd {

// The small HTML bodies of error responses, built once per worker, so an error costs
// no formatting. Every status the server can send has one.
class ErrorPages {
public:
    ErrorPages();
    std::string_view body(std::uint16_t status) const;

private:
    std::unordered_map<std::uint16_t, std::string> pages_;
    std::string fallback_;
};

}  // namespace pywebd
