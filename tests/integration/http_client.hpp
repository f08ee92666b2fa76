#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "unique_fd.hpp"

namespace pywebd::test {

struct HttpResponse {
    int status = 0;
    std::string status_line;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;

    std::string header(const std::string& name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
    bool has(const std::string& name) const { return headers.contains(name); }
};

// A blocking HTTP/1.1 client on one TCP connection to loopback, with receive timeouts,
// that reads responses framed exactly by Content-Length (or by close, if none).
class HttpClient {
public:
    explicit HttpClient(std::uint16_t port, const char* address = "127.0.0.1",
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

    bool connected() const { return fd_.valid(); }
    int fd() const { return fd_.get(); }
    bool send(std::string_view bytes);
    // Reads one response; `head_request` means no body follows whatever the fields say.
    std::optional<HttpResponse> read_response(bool head_request = false);
    // Everything until the server closes (or the timeout).
    std::string read_until_close();
    // True if the server has closed its side (a read returns 0 within `wait`).
    bool closed_by_server(std::chrono::milliseconds wait = std::chrono::milliseconds(2000));
    std::string leftover() const { return buffer_; }

    // One request on this connection, keep-alive.
    std::optional<HttpResponse> get(const std::string& target, const std::string& extra_fields = "");

private:
    bool fill();  // reads more into buffer_; false on EOF, error or timeout

    UniqueFd fd_;
    std::string buffer_;
};

// One GET on a fresh connection with "Connection: close".
std::optional<HttpResponse> http_get(std::uint16_t port, const std::string& target,
                                     const std::string& extra_fields = "");

}  // namespace pywebd::test
