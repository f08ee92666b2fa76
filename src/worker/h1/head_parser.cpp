#include "h1/head_parser.hpp"

#include "http/http_chars.hpp"
#include "strings.hpp"

namespace pywebd::h1 {
namespace {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

// HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3). 1.x above 1.1 is served as
// 1.1 (RFC 9110 §6.2); any other major version is 505.
ParseError parse_version(std::string_view text, Version& out) {
    if (text.size() != 8 || !text.starts_with("HTTP/") || !is_digit(text[5]) || text[6] != '.' || !is_digit(text[7]))
        return ParseError::BadVersion;
    if (text[5] != '1') return ParseError::UnsupportedVersion;
    out = text[7] == '0' ? Version::Http10 : Version::Http11;
    return ParseError::None;
}

ParseError parse_request_line(std::string_view line, const ParseLimits& limits, RequestHead& out) {
    const auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return ParseError::BadRequestLine;
    const auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return ParseError::BadRequestLine;

    out.request_line = line;
    out.method_text = line.substr(0, sp1);
    if (out.method_text.empty() || !http::chars::all_of(out.method_text, http::chars::kTchar))
        return ParseError::BadMethod;
    out.method = http::method_from(out.method_text);

    out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (out.target.empty()) return ParseError::BadRequestLine;  // two spaces in a row
    if (out.target.size() > limits.max_uri_bytes) return ParseError::UriTooLong;
    if (!http::chars::all_of(out.target, http::chars::kTargetChar)) return ParseError::BadTarget;

    return parse_version(line.substr(sp2 + 1), out.version);
}

// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5)
ParseError parse_field_line(std::string_view line, Header& out) {
    if (line.front() == ' ' || line.front() == '\t') return ParseError::ObsFold;
    std::size_t colon = 0;
    while (colon < line.size() && http::chars::is_tchar(line[colon])) ++colon;
    if (colon == line.size()) return ParseError::BadHeaderName;
    if (line[colon] != ':') {
        // "Name : value" is the smuggling-prone form RFC 9112 §5.1 singles out.
        const bool space = line[colon] == ' ' || line[colon] == '\t';
        return space && line.find(':', colon) != std::string_view::npos ? ParseError::SpaceBeforeColon
                                                                        : ParseError::BadHeaderName;
    }
    if (colon == 0) return ParseError::BadHeaderName;
    out.name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    if (!http::chars::all_of(value, http::chars::kFieldValue)) return ParseError::BadHeaderValue;
    out.value = trim_ows(value);
    return ParseError::None;
}

}  // namespace

ParseError parse_head(std::string_view head, const ParseLimits& limits, std::span<Header> storage, RequestHead& out) {
    // The scanner guarantees CRLF line ends and a final empty line.
    auto line_end = head.find("\r\n");
    if (const ParseError e = parse_request_line(head.substr(0, line_end), limits, out); e != ParseError::None) return e;
    std::size_t count = 0;
    for (std::size_t start = line_end + 2;; start = line_end + 2) {
        line_end = head.find("\r\n", start);
        if (line_end == start) break;  // the empty line
        if (count == storage.size() || count == limits.max_headers) return ParseError::TooManyHeaders;
        if (const ParseError e = parse_field_line(head.substr(start, line_end - start), storage[count]);
            e != ParseError::None)
            return e;
        ++count;
    }
    out.headers = storage.first(count);
    return ParseError::None;
}

}  // namespace pywebd::h1
