#pragma once

#include <string>

#include "http/response.hpp"

namespace pywebd::h1 {

// What the session says about the connection in the response's own Connection field.
enum class ConnectionField : unsigned char {
    None,       // HTTP/1.1 persists by default
    Close,      // this is the last response on the connection
    KeepAlive,  // an HTTP/1.0 client needs it said to keep the connection
};

// Renders a planned response's head as HTTP/1.1 text into `out` (replacing what it
// held): the status line, its fields (shared blocks first, as they come), the
// Transfer-Encoding when the body is sent in chunks, the Connection field, and the empty line.
void render_head(const Response& response, ConnectionField connection, std::string& out, bool chunked = false);

}  // namespace pywebd::h1
