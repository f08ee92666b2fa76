#pragma once

#include <cstdint>
#include <vector>

#include "http/byte_ranges.hpp"
#include "http/file_facts.hpp"
#include "http/request.hpp"

namespace pywebd::http {

enum class Outcome : std::uint8_t {
    Whole,                // 200 with the whole file
    Partial,              // 206 with `ranges` (one: plain body; several: multipart/byteranges)
    NotModified,          // 304
    PreconditionFailed,   // 412
    RangeNotSatisfiable,  // 416
};

// The whole file-serving decision for a GET or HEAD of an open regular file, as a pure
// function of the request and the file's facts (no I/O), in RFC 9110 §13.2.2 order:
// If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since, then Range with
// If-Range (§14.2). `ranges` receives the ranges for Partial.
Outcome decide(const Request& request, const FileFacts& file, const ETag& etag, std::size_t max_ranges,
               std::vector<ByteRange>& ranges);

}  // namespace pywebd::http
