#include "h1/response_head.hpp"

#include <charconv>

#include "http/status.hpp"

namespace pywebd::h1 {

void render_head(const Response& response, ConnectionField connection, std::string& out, bool chunked) {
    out.assign("HTTP/1.1 ");
    char digits[8];
    out.append(digits,
               static_cast<std::size_t>(std::to_chars(digits, digits + sizeof digits, response.status).ptr - digits));
    out.push_back(' ');
    out.append(http::reason_phrase(response.status)).append("\r\n");
    for (const http::FieldBlock* block : response.shared) out.append(block->h1_text());
    out.append(response.fields.h1_text());
    if (chunked) out.append("Transfer-Encoding: chunked\r\n");
    if (connection == ConnectionField::Close)
        out.append("Connection: close\r\n");
    else if (connection == ConnectionField::KeepAlive)
        out.append("Connection: keep-alive\r\n");
    out.append("\r\n");
}

}  // namespace pywebd::h1
