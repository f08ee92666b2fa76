#include "h1/request_framing.hpp"

#include <charconv>

#include "http/http_chars.hpp"
#include "strings.hpp"

namespace pywebd::h1 {
namespace {

// The fields HTTP/1 framing reads; the others go to http::FieldNotes.
enum class Field : unsigned char { Other, Host, ContentLength, TransferEncoding, Connection };

Field field_of(std::string_view name) {
    static constexpr std::pair<std::string_view, Field> kKnown[] = {
        {"host", Field::Host},
        {"content-length", Field::ContentLength},
        {"transfer-encoding", Field::TransferEncoding},
        {"connection", Field::Connection},
    };
    return find_ignoring_case(name, kKnown, Field::Other);
}

// Content-Length = 1*DIGIT (RFC 9110 §8.6); lists and overflow refused.
ParseError parse_content_length(std::string_view text, std::uint64_t& out) {
    if (text.empty()) return ParseError::BadContentLength;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc{} || end != text.data() + text.size()) return ParseError::BadContentLength;
    return ParseError::None;
}

struct TransferCodings {
    bool present = false;
    bool chunked_last = false;
    bool chunked_seen = false;
    bool unknown = false;
    bool malformed = false;

    void add_field(std::string_view value) {
        present = true;
        for_each_list_element(value, [&](std::string_view coding) {
            const bool is_chunked = iequals(coding, "chunked");
            // Empty elements and a second chunked (RFC 9112 §7: applied once) are refused.
            if (coding.empty() || (is_chunked && chunked_seen)) malformed = true;
            chunked_seen = chunked_seen || is_chunked;
            unknown = unknown || !is_chunked;  // gzip, deflate … are valid but not decoded here
            chunked_last = is_chunked;
        });
    }
};

ParseError check_transfer_encoding(const TransferCodings& te, const RequestHead& head, bool has_length) {
    if (has_length) return ParseError::ContentLengthWithTransferEncoding;  // §6.1: a smuggling vector
    if (head.version == Version::Http10) return ParseError::TransferEncodingInHttp10;
    if (te.malformed) return ParseError::BadTransferEncoding;
    if (!te.chunked_last) return ParseError::ChunkedNotFinal;  // §6.3: length unknowable → 400
    if (te.unknown) return ParseError::UnknownTransferCoding;  // RFC 9110 §10.1.4 → 501
    return ParseError::None;
}

// Splits the request-target by form (RFC 9112 §3.2).
ParseError split_target(const RequestHead& head, http::Request& out) {
    std::string_view target = head.target;
    if (target == "*") {
        out.asterisk = true;
        return head.method == Method::Options ? ParseError::None : ParseError::TargetFormMismatch;
    }
    if (target.front() != '/') {
        const auto scheme_end = target.find("://");
        if (scheme_end == std::string_view::npos) {
            // authority-form is for CONNECT only, which is refused later with 405.
            return head.method == Method::Connect ? ParseError::None : ParseError::TargetFormMismatch;
        }
        const std::string_view scheme = target.substr(0, scheme_end);
        if (!iequals(scheme, "http") && !iequals(scheme, "https")) return ParseError::BadTarget;
        target.remove_prefix(scheme_end + 3);
        const auto path_start = target.find_first_of("/?");
        const std::string_view authority = target.substr(0, path_start);
        if (authority.empty() || !http::chars::all_of(authority, http::chars::kHostChar)) return ParseError::BadTarget;
        out.authority = authority;  // RFC 9112 §3.2.2: the target's authority, not Host, names the host
        target = path_start == std::string_view::npos ? std::string_view("/") : target.substr(path_start);
        if (target.front() == '?') {  // "http://host?q": the path is "/"
            out.path = "/";
            out.query = target.substr(1);
            out.has_query = true;
            return ParseError::None;
        }
    }
    const auto question = target.find('?');
    out.path = target.substr(0, question);
    if (question != std::string_view::npos) {
        out.query = target.substr(question + 1);
        out.has_query = true;
    }
    return ParseError::None;
}

}  // namespace

ParseError analyze(const RequestHead& head, http::Request& request, MessageFacts& message) {
    request = http::Request{};
    message = MessageFacts{};
    request.method = head.method;
    request.fields = head.headers;
    int host_count = 0;
    bool close_requested = false, keep_alive_requested = false;
    bool has_length = false;
    TransferCodings te;
    http::FieldNotes notes;
    for (const Header& field : head.headers) {
        switch (field_of(field.name)) {
        case Field::Host:
            if (++host_count > 1) return ParseError::DuplicateHost;
            if (!http::chars::all_of(field.value, http::chars::kHostChar)) return ParseError::BadHost;
            request.authority = field.value;
            break;
        case Field::ContentLength:
            if (has_length) return ParseError::DuplicateContentLength;
            has_length = true;
            if (const ParseError e = parse_content_length(field.value, message.content_length); e != ParseError::None)
                return e;
            break;
        case Field::TransferEncoding: te.add_field(field.value); break;
        case Field::Connection:
            for_each_list_element(field.value, [&](std::string_view option) {
                close_requested = close_requested || iequals(option, "close");
                keep_alive_requested = keep_alive_requested || iequals(option, "keep-alive");
            });
            break;
        case Field::Other: notes.note(field); break;
        }
    }
    if (host_count == 0 && head.version == Version::Http11) return ParseError::MissingHost;
    if (te.present) {
        if (const ParseError e = check_transfer_encoding(te, head, has_length); e != ParseError::None) return e;
        message.chunked = true;
    }
    // RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
    message.keep_alive = !close_requested && (head.version == Version::Http11 || keep_alive_requested);
    request.body_may_stream = head.version != Version::Http10;
    notes.finish(request);
    return split_target(head, request);
}

}  // namespace pywebd::h1
