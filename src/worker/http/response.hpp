#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "http/byte_ranges.hpp"
#include "static/file_cache.hpp"

namespace pywebd {

// A piece of a response body: bytes in memory, or a byte range of the response's file.
struct BodySegment {
    const char* data = nullptr;  // memory when set; otherwise a range of `Response::file`
    std::uint64_t offset = 0;    // file offset (file segments)
    std::uint64_t length = 0;
};

// One response, as planned by the handler and then sent by the connection. Objects are
// pooled with the connection's buffers, so the strings and vectors keep their capacity
// and a steady stream of requests allocates nothing.
struct Response {
    std::string head;                   // status line and fields, ending in CRLF CRLF
    std::string parts;                  // multipart part headers and the closing delimiter
    std::vector<BodySegment> segments;  // the body, sent after `head` (none for HEAD)
    std::vector<http::ByteRange> ranges;
    std::shared_ptr<const CachedFile> file;  // what file segments are read from; kept alive while sending
    std::uint16_t status = 0;
    bool close = false;  // Connection: close, then close after sending

    void clear() {
        head.clear();
        parts.clear();
        segments.clear();
        ranges.clear();
        file.reset();
        status = 0;
        close = false;
    }
};

}  // namespace pywebd
