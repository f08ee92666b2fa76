#pragma once

#include <cstdint>

#include "h1/request_head.hpp"
#include "http/request.hpp"

namespace pywebd::h1 {

// What HTTP/1 itself needs to know about a request: how its body is framed and whether
// the connection persists after it.
struct MessageFacts {
    bool keep_alive = false;
    bool chunked = false;
    std::uint64_t content_length = 0;

    bool has_body() const { return chunked || content_length > 0; }
};

// The semantic checks of RFC 9112 on a syntactically valid head, in one pass over its
// fields: Host (§3.2), message body framing (§6.1-6.3: Content-Length and
// Transfer-Encoding), the request-target's form (§3.2) and persistence (§9.3). Fills
// the protocol-free `request` (views into the head, except the path of an absolute-form
// target that has none, "http://host?q", which is the static "/") and `message`.
ParseError analyze(const RequestHead& head, http::Request& request, MessageFacts& message);

}  // namespace pywebd::h1
