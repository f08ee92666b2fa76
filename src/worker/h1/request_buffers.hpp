#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "h1/chunked_body.hpp"
#include "h1/head_scanner.hpp"
#include "h1/request_head.hpp"
#include "http/response.hpp"

namespace pywebd {

// Everything an HTTP/1 connection needs only while a request is in progress: the input
// buffer (fixed at the configured head limit, never moved, so views into it stay valid),
// the scanner, the request's field array, the planned response and how far it is sent.
// Idle keep-alive connections hold none of it.
struct RequestBuffers {
    RequestBuffers(std::size_t size, std::size_t max_headers)
        : input(new char[size]), capacity(size), headers(max_headers) {}

    std::unique_ptr<char[]> input;
    std::size_t capacity;
    std::size_t length = 0;    // bytes in `input`
    std::size_t consumed = 0;  // bytes of the current request (its head, and what came of a
                               // chunked body with it), dropped when it is answered
    h1::HeadScanner scanner;
    std::vector<http::Header> headers;  // the parsed fields of the current request
    Response response;
    std::string head;    // the response's head as HTTP/1 text
    bool close = false;  // the connection closes after this response
    // For the access log, views into `input`.
    std::string_view request_line;
    std::string_view referer;
    std::string_view user_agent;
    // Progress of the response being sent.
    std::uint64_t head_offset = 0;  // bytes of the head sent
    std::uint64_t segment_offset = 0;
    std::uint64_t body_sent = 0;
    std::int64_t started_us = 0;  // when the response was planned, for the duration metric
    std::uint32_t segment = 0;
    // A body made while sent (Response::stream): the piece being written, framed as a
    // chunk (HTTP/1.1) or not (HTTP/1.0, where the close ends the body).
    std::string chunk;
    std::size_t chunk_offset = 0;
    bool chunked_response = false;
    bool last_chunk = false;     // `chunk` ends the body
    bool responding = false;     // begun and not yet completed (logged)
    bool client_closes = false;  // the request asked to close, and nothing follows it
    std::uint64_t discard = 0;   // request body bytes still to drop before the next head
    bool chunked_body = false;   // a chunked request body still to drop before the next head
    h1::ChunkedBody chunked;     // how far that body has been read

    std::string_view buffered() const { return {input.get(), length}; }
    void drop_front(std::size_t n);  // moves what follows to the front
};

// A worker's free list of RequestBuffers. Keeps up to `keep` spare ones so steady load
// allocates nothing, and frees the rest so a burst does not pin memory.
class BufferPool {
public:
    BufferPool(std::size_t buffer_size, std::size_t max_headers, std::size_t keep)
        : size_(buffer_size), max_headers_(max_headers), keep_(keep) {}

    std::unique_ptr<RequestBuffers> acquire();
    void release(std::unique_ptr<RequestBuffers> buffers);
    std::size_t spare() const { return free_.size(); }

private:
    std::size_t size_;
    std::size_t max_headers_;
    std::size_t keep_;
    std::vector<std::unique_ptr<RequestBuffers>> free_;
};

}  // namespace pywebd
