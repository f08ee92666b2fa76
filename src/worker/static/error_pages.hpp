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
    // The 400 page for a client that spoke plain HTTP to a TLS port: it says so, as the
    // person at the browser needs to know to type https://.
    std::string_view plain_http_on_tls_port() const { return plain_http_; }

private:
    std::unordered_map<std::uint16_t, std::string> pages_;
    std::string fallback_;
    std::string plain_http_;
};

}  // namespace pywebd
