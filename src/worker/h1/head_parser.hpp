#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "h1/request_head.hpp"

namespace pywebd::h1 {

struct ParseLimits {
    std::size_t max_headers = 100;
    std::size_t max_uri_bytes = 8192;
};

// Parses a complete head, as delimited by HeadScanner (request line, header lines, the
// final empty line; every line ending in CRLF). Strict RFC 9112 grammar: one SP between
// the request-line parts, token methods and field names, no whitespace before a colon,
// no obs-fold, no control characters in values. Never allocates: `storage` receives the
// header fields and every view in `out` points into `head`.
ParseError parse_head(std::string_view head, const ParseLimits& limits, std::span<Header> storage, RequestHead& out);

}  // namespace pywebd::h1
