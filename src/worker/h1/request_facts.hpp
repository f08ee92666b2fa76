#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "h1/http_head.hpp"

namespace pywebd::http {

// What the handler needs to know about a parsed head, derived in one pass over its
// fields. Views point into the same buffer as the head, except `path` of an
// absolute-form target that has none ("http://host?q"), which is the static "/".
struct RequestFacts {
    bool keep_alive = false;
    bool chunked = false;
    std::uint64_t content_length = 0;
    bool asterisk = false;   // OPTIONS *
    std::string_view path;   // still percent-encoded; starts with '/'
    std::string_view query;  // after '?', or empty
    bool has_query = false;
    std::string_view host;  // the Host field, or the authority of an absolute-form target
    // Fields with one value. A repeated one is dropped (treated as absent), as RFC 9110
    // allows for each of them (§13.1.3, §13.1.4, §13.1.5, §14.2).
    std::optional<std::string_view> if_modified_since;
    std::optional<std::string_view> if_unmodified_since;
    std::optional<std::string_view> if_range;
    std::optional<std::string_view> range;
    // List fields: present or not; their values are read from the head when needed.
    bool has_if_match = false;
    bool has_if_none_match = false;
    bool has_accept_encoding = false;
    std::string_view referer;
    std::string_view user_agent;

    bool has_body() const { return chunked || content_length > 0; }
};

// The semantic checks of RFC 9112 on a syntactically valid head: Host (§3.2), message
// body framing (§6.1-6.3: Content-Length and Transfer-Encoding), the request-target's
// form (§3.2), and persistence (§9.3).
ParseError analyze(const RequestHead& head, RequestFacts& out);

// Calls each(element) for every element of every field named `name` (a list field,
// RFC 9110 §5.3: repeated lines are one comma-separated list).
template <typename Each>
void for_each_element(const RequestHead& head, std::string_view name, Each&& each);

}  // namespace pywebd::http

#include "h1/request_facts_inl.hpp"
