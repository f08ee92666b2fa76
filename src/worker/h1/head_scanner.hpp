#pragma once

#include <cstddef>
#include <string_view>

#include "h1/request_head.hpp"

namespace pywebd::h1 {

// Finds the end of a request head (the empty line) as bytes arrive, looking at each
// byte once however the head is split across reads. It enforces line endings: every
// line ends in CRLF; a bare LF or a CR not followed by LF is an error at once, so a
// client cannot make us wait for a terminator that will never come in the form we want.
// Empty lines before the request line are skipped (RFC 9112 §2.2).
class HeadScanner {
public:
    enum class Status : unsigned char { Incomplete, Complete, Error };
    struct Result {
        Status status;
        ParseError error = ParseError::None;
    };

    // `buffered` holds every byte received for this request so far (earlier bytes
    // unchanged); `buffer_full` says no more will fit, which turns Incomplete into 414/431.
    Result scan(std::string_view buffered, bool buffer_full);

    // Valid once scan() returned Complete: the head without leading empty lines,
    // ending with its final CRLF CRLF; and the offset just past it.
    std::size_t head_begin() const { return head_begin_; }
    std::size_t head_end() const { return head_end_; }

    void reset() { *this = HeadScanner{}; }

private:
    std::size_t scanned_ = 0;
    std::size_t line_start_ = 0;
    std::size_t head_begin_ = 0;
    std::size_t head_end_ = 0;
    bool seen_request_line_ = false;
};

}  // namespace pywebd::h1
