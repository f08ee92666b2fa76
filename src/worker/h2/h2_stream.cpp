#include "h2/h2_stream.hpp"

#include "http/authority.hpp"
#include "http/http_chars.hpp"
#include "strings.hpp"

namespace pywebd {

bool H2Stream::add_field(std::string_view name, std::string_view value, std::size_t limit) {
    field_bytes += name.size() + value.size() + 32;
    if (field_bytes > limit) too_large = true;
    // The pseudo-fields (first, and at most one of each: nghttp2 checks) are kept even
    // past the limit, cut to it, so an oversized request is still answered as what it
    // is (a HEAD without a body, a long :path with 414) and logged with its method.
    const bool pseudo = !name.empty() && name.front() == ':';
    if (name == ":path") target_length = value.size();
    if (too_large && !pseudo) return false;
    if (pseudo) value = value.substr(0, limit);
    const auto at = static_cast<std::uint32_t>(text.size());
    text.append(name).append(value);
    spans.push_back({at, static_cast<std::uint32_t>(name.size()), static_cast<std::uint32_t>(at + name.size()),
                     static_cast<std::uint32_t>(value.size())});
    return !too_large;
}

namespace {

bool same_host(std::string_view a, std::string_view b) {
    const auto host_a = http::host_of(a), host_b = http::host_of(b);
    return host_a && host_b && iequals(*host_a, *host_b);
}

}  // namespace

void H2Stream::clear() {
    H2Stream fresh(id);  // every member at its initial value; the buffers are moved over
    fresh.text = std::move(text);
    fresh.text.clear();
    fresh.spans = std::move(spans);
    fresh.spans.clear();
    fresh.fields = std::move(fields);
    fresh.fields.clear();
    fresh.request_line = std::move(request_line);
    fresh.request_line.clear();
    fresh.response = std::move(response);
    fresh.response.clear();
    *this = std::move(fresh);
}

void H2Stream::finish_head() {
    head_done = true;
    request = http::Request{};
    http::FieldNotes notes;
    std::string_view method, path, authority;
    const std::string_view all(text);
    for (const Span& s : spans) {
        const std::string_view name = all.substr(s.name, s.name_length);
        const std::string_view value = all.substr(s.value, s.value_length);
        if (name == ":method")
            method = value;
        else if (name == ":path")
            path = value;
        else if (name == ":authority")
            authority = value;
        else if (name.front() != ':')
            fields.push_back({name, value});
    }
    bool cookie_seen = false;
    const bool has_authority = !authority.empty();
    bool host_seen = false;
    for (const http::Header& field : fields) {
        if (field.name == "host") {
            // §8.3.1: :authority wins, and a Host beside it must name the same host (its
            // port may be left out or written); two Host fields are as malformed as in
            // HTTP/1.1.
            if (!has_authority && !host_seen)
                authority = field.value;
            else if (!has_authority || !same_host(authority, field.value))
                conflicting_authority = true;
            host_seen = true;
        }
        const bool crumb = field.name == "cookie";
        if (!crumb || !cookie_seen) ++field_lines;
        cookie_seen = cookie_seen || crumb;
        notes.note(field);
    }
    request.method = http::method_from(method);
    request.authority = authority;
    request.fields = fields;
    bad_target = !http::chars::all_of(path, http::chars::kTargetChar);  // as HTTP/1.1's request-target
    if (path == "*") {
        request.asterisk = true;
    } else {
        const auto question = path.find('?');
        request.path = path.substr(0, question);
        if (question != std::string_view::npos) {
            request.query = path.substr(question + 1);
            request.has_query = true;
        }
    }
    notes.finish(request);
    request_line.assign(method).append(" ").append(path).append(" HTTP/2.0");
}

}  // namespace pywebd
