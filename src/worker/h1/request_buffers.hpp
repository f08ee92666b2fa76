#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "h1/head_scanner.hpp"
#include "http/response.hpp"

namespace pywebd {

// Everything a connection needs only while a request is in progress: the input buffer
// (fixed at the configured head limit, never moved, so views into it stay valid), the
// scanner, and the planned response. Idle keep-alive connections hold none of it.
struct RequestBuffers {
    explicit RequestBuffers(std::size_t size) : input(new char[size]), capacity(size) {}

    std::unique_ptr<char[]> input;
    std::size_t capacity;
    std::size_t length = 0;    // bytes in `input`
    std::size_t consumed = 0;  // bytes of the current request's head, dropped when it is answered
    http::HeadScanner scanner;
    Response response;
    // For the access log, views into `input`.
    std::string_view request_line;
    std::string_view referer;
    std::string_view user_agent;

    std::string_view buffered() const { return {input.get(), length}; }
    void drop_front(std::size_t n);  // moves what follows to the front
};

// A worker's free list of RequestBuffers. Keeps up to `keep` spare ones so steady load
// allocates nothing, and frees the rest so a burst does not pin memory.
class BufferPool {
public:
    BufferPool(std::size_t buffer_size, std::size_t keep) : size_(buffer_size), keep_(keep) {}

    std::unique_ptr<RequestBuffers> acquire();
    void release(std::unique_ptr<RequestBuffers> buffers);
    std::size_t spare() const { return free_.size(); }

private:
    std::size_t size_;
    std::size_t keep_;
    std::vector<std::unique_ptr<RequestBuffers>> free_;
};

}  // namespace pywebd
