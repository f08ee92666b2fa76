#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "h1/request_head.hpp"

namespace pywebd::h1 {

// Reads a request body in the chunked transfer coding (RFC 9112 §7.1) to drop it:
// a static server answers without the body, but must find where it ends to read the
// next request on the connection. Strict: hexadecimal sizes without overflow, chunk
// extensions of tokens and quoted strings, CRLF line ends only, trailer fields with
// valid names and values, and a CRLF after every chunk's data.
//
// Fed the buffered bytes in any pieces, it consumes what it has judged and leaves an
// unfinished line where it is, so the caller keeps it buffered until its end arrives.
class ChunkedBody {
public:
    struct Limits {
        std::uint64_t max_data;    // decoded bytes; and, separately, bytes of framing
        std::size_t max_line;      // a chunk-size line or a trailer line
        std::size_t max_trailers;  // the whole trailer section
    };
    enum class Status : unsigned char {
        NeedMore,  // everything given was consumed but an unfinished line
        Done,      // the body ended; `consumed` stops right after it
        Invalid,   // `error` says what
        TooLarge,  // past a limit: the body will not be read to its end
    };
    struct Result {
        Status status;
        std::size_t consumed;
        ParseError error = ParseError::None;
    };

    Result feed(std::string_view input, const Limits& limits);
    std::uint64_t data_bytes() const { return data_; }

private:
    enum class State : unsigned char { SizeLine, Data, DataEnd, Trailers, Done };

    Result size_line(std::string_view line, const Limits& limits);
    Result trailer_line(std::string_view line, const Limits& limits);

    State state_ = State::SizeLine;
    std::uint64_t remaining_ = 0;  // of the current chunk's data
    std::uint64_t data_ = 0;       // announced by the chunk sizes so far
    std::uint64_t framing_ = 0;    // everything else so far: sizes, extensions, CRLFs, trailers
    std::size_t trailers_ = 0;     // bytes of the trailer section so far
};

}  // namespace pywebd::h1
