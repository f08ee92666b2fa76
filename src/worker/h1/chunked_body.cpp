#include "h1/chunked_body.hpp"

#include <cstring>

#include "http/http_chars.hpp"

namespace pywebd::h1 {
namespace {

using http::chars::is_field_value;
using http::chars::is_tchar;

constexpr bool is_ws(char c) { return c == ' ' || c == '\t'; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void skip_ws(std::string_view s, std::size_t& i) {
    while (i < s.size() && is_ws(s[i])) ++i;
}

std::size_t token_end(std::string_view s, std::size_t i) {
    while (i < s.size() && is_tchar(s[i])) ++i;
    return i;
}

// quoted-string (RFC 9110 §5.6.4) starting at s[i] == '"'; returns the index after the
// closing quote, or npos.
std::size_t quoted_string_end(std::string_view s, std::size_t i) {
    for (++i; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '"') return i + 1;
        if (c == '\\') {
            if (++i == s.size() || !is_field_value(s[i])) return std::string_view::npos;
        } else if (!is_field_value(c)) {
            return std::string_view::npos;
        }
    }
    return std::string_view::npos;
}

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
bool valid_extensions(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        skip_ws(s, i);
        if (i == s.size() || s[i] != ';') return false;  // trailing whitespace is no extension
        skip_ws(s, ++i);
        const std::size_t name_end = token_end(s, i);
        if (name_end == i) return false;
        i = name_end;
        std::size_t after = i;
        skip_ws(s, after);
        if (after == s.size() || s[after] != '=') continue;
        skip_ws(s, ++after);
        if (after == s.size()) return false;
        i = s[after] == '"' ? quoted_string_end(s, after) : token_end(s, after);
        if (i == std::string_view::npos || i == after) return false;
    }
    return true;
}

// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5), as in a head.
bool valid_field_line(std::string_view line) {
    const std::size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    for (std::size_t i = 0; i < colon; ++i)
        if (!is_tchar(line[i])) return false;
    for (std::size_t i = colon + 1; i < line.size(); ++i)
        if (!is_field_value(line[i])) return false;
    return true;
}

enum class LineEnd : unsigned char { Found, Missing, Bare };

// The next line of `input`, without its CRLF. A LF without a CR before it, or a CR not
// followed by LF, is refused (RFC 9112 §2.2 lets a recipient be lenient; we are not,
// as for heads).
LineEnd next_line(std::string_view input, std::string_view& line) {
    const auto* lf = static_cast<const char*>(std::memchr(input.data(), '\n', input.size()));
    const std::size_t scan = lf == nullptr ? input.size() : static_cast<std::size_t>(lf - input.data());
    const auto* cr = static_cast<const char*>(std::memchr(input.data(), '\r', scan));
    if (cr != nullptr && static_cast<std::size_t>(cr - input.data()) + 1 < scan) return LineEnd::Bare;  // CR inside
    if (lf == nullptr) return LineEnd::Missing;
    if (scan == 0 || input[scan - 1] != '\r') return LineEnd::Bare;
    line = input.substr(0, scan - 1);
    return LineEnd::Found;
}

}  // namespace

ChunkedBody::Result ChunkedBody::feed(std::string_view input, const Limits& limits) {
    std::size_t used = 0;
    auto fail = [&](ParseError e) { return Result{Status::Invalid, used, e}; };
    while (used < input.size() || state_ == State::Done) {
        const std::string_view rest = input.substr(used);
        switch (state_) {
        case State::Done: return {Status::Done, used};
        case State::Data: {
            const std::size_t take = remaining_ < rest.size() ? static_cast<std::size_t>(remaining_) : rest.size();
            used += take;
            remaining_ -= take;
            if (remaining_ == 0) state_ = State::DataEnd;
            break;
        }
        case State::DataEnd:
            if (rest[0] != '\r' || (rest.size() > 1 && rest[1] != '\n')) return fail(ParseError::BadChunk);
            if (rest.size() < 2) return {Status::NeedMore, used};
            used += 2;
            framing_ += 2;
            state_ = State::SizeLine;
            break;
        case State::SizeLine:
        case State::Trailers: {
            const bool trailers = state_ == State::Trailers;
            const ParseError bad = trailers ? ParseError::BadTrailer : ParseError::BadChunk;
            std::string_view line;
            const LineEnd end = next_line(rest.substr(0, limits.max_line + 2), line);
            if (end == LineEnd::Bare) return fail(bad);
            if (end == LineEnd::Missing)
                return rest.size() > limits.max_line + 1 ? fail(bad) : Result{Status::NeedMore, used};
            const Result r = trailers ? trailer_line(line, limits) : size_line(line, limits);
            if (r.status != Status::NeedMore) return {r.status, used, r.error};
            used += line.size() + 2;
            framing_ += line.size() + 2;
            if (framing_ > limits.max_data && state_ != State::Done) return {Status::TooLarge, used};
            break;
        }
        }
    }
    return {Status::NeedMore, used};
}

// chunk-size [ chunk-ext ]: NeedMore means "accepted, go on".
ChunkedBody::Result ChunkedBody::size_line(std::string_view line, const Limits& limits) {
    std::uint64_t size = 0;
    std::size_t i = 0;
    for (int digit; i < line.size() && (digit = hex_value(line[i])) >= 0; ++i) {
        if (size > (UINT64_MAX >> 4)) return {Status::Invalid, 0, ParseError::BadChunk};
        size = (size << 4) | static_cast<unsigned>(digit);
    }
    if (i == 0 || !valid_extensions(line.substr(i))) return {Status::Invalid, 0, ParseError::BadChunk};
    if (size > limits.max_data - data_) return {Status::TooLarge, 0};
    data_ += size;
    remaining_ = size;
    state_ = size == 0 ? State::Trailers : State::Data;
    return {Status::NeedMore, 0};
}

// A trailer field, or the empty line that ends the body.
ChunkedBody::Result ChunkedBody::trailer_line(std::string_view line, const Limits& limits) {
    if (line.empty()) {
        state_ = State::Done;
        return {Status::NeedMore, 0};
    }
    trailers_ += line.size() + 2;
    if (trailers_ > limits.max_trailers) return {Status::Invalid, 0, ParseError::BadTrailer};
    if (!valid_field_line(line)) return {Status::Invalid, 0, ParseError::BadTrailer};
    return {Status::NeedMore, 0};
}

}  // namespace pywebd::h1
