#include "h1/head_scanner.hpp"

#include <cstring>

namespace pywebd::h1 {

HeadScanner::Result HeadScanner::scan(std::string_view buffered, bool buffer_full) {
    const char* data = buffered.data();
    const std::size_t size = buffered.size();
    std::size_t i = scanned_;
    while (i < size) {
        // memchr finds line ends much faster than a byte loop on long header lines.
        const void* hit = std::memchr(data + i, '\r', size - i);
        const void* lf = std::memchr(data + i, '\n', size - i);
        if (lf != nullptr && (hit == nullptr || lf < hit)) return {Status::Error, ParseError::BareLF};
        if (hit == nullptr) {
            i = size;
            break;
        }
        i = static_cast<std::size_t>(static_cast<const char*>(hit) - data);
        if (i + 1 == size) break;  // the LF may still come
        if (data[i + 1] != '\n') return {Status::Error, ParseError::BareCR};
        const bool empty_line = i == line_start_;
        line_start_ = i + 2;
        i += 2;
        if (!empty_line) {
            seen_request_line_ = true;
        } else if (!seen_request_line_) {
            head_begin_ = line_start_;  // a stray CRLF before the request line
        } else {
            head_end_ = i;
            scanned_ = i;
            return {Status::Complete};
        }
    }
    scanned_ = i;
    if (buffer_full)
        return {Status::Error, seen_request_line_ ? ParseError::HeadTooLarge : ParseError::RequestLineTooLong};
    return {Status::Incomplete};
}

}  // namespace pywebd::h1
