#pragma once

// A request's meaning, whatever protocol carried it: what the handler needs to answer
// it. HTTP/1 builds one from its parsed head (h1/request_framing), HTTP/2 will from
// its pseudo-headers and fields.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "strings.hpp"

namespace pywebd::http {

enum class Method : std::uint8_t { Get, Head, Options, Post, Put, Delete, Patch, Connect, Trace, Unknown };

// The method a token names (case-sensitive, RFC 9110 §9.1); Unknown for any other.
Method method_from(std::string_view token);

struct Header {
    std::string_view name;   // as sent; compare case-insensitively
    std::string_view value;  // OWS trimmed
};

// Every view points into the protocol's buffers, which stay put while the request is
// handled.
struct Request {
    Method method = Method::Unknown;
    std::string_view path;   // still percent-encoded; starts with '/' (or the static "/")
    std::string_view query;  // after '?', or empty
    bool has_query = false;
    bool asterisk = false;       // OPTIONS *
    std::string_view authority;  // the host the request names (Host, or the target's authority)
    std::span<const Header> fields;
    // Fields with one value. A repeated one is dropped (treated as absent), as RFC 9110
    // allows for each of them (§13.1.3, §13.1.4, §13.1.5, §14.2).
    std::optional<std::string_view> if_modified_since;
    std::optional<std::string_view> if_unmodified_since;
    std::optional<std::string_view> if_range;
    std::optional<std::string_view> range;
    // List fields: present or not; their values are read from `fields` when needed.
    bool has_if_match = false;
    bool has_if_none_match = false;
    bool has_accept_encoding = false;
    std::string_view referer;
    std::string_view user_agent;
    // A response body of unknown length can be sent without closing the connection
    // (false for HTTP/1.0, which has no chunks).
    bool body_may_stream = true;
};

// Collects, one field at a time, the fields a Request notes (conditionals, Range,
// Accept-Encoding, Referer, User-Agent), so a protocol reading its fields once can
// feed each here.
class FieldNotes {
public:
    // False if `field` is none of them (the caller may know it).
    bool note(const Header& field);
    void finish(Request& out) const;

private:
    struct Single {  // a field allowed once; a second occurrence makes it unusable
        std::optional<std::string_view> value;
        bool repeated = false;
        void add(std::string_view v) {
            repeated = value.has_value();
            value = v;
        }
        std::optional<std::string_view> get() const { return repeated ? std::nullopt : value; }
    };
    Single if_modified_since_, if_unmodified_since_, if_range_, range_;
    bool if_match_ = false, if_none_match_ = false, accept_encoding_ = false;
    std::string_view referer_, user_agent_;
};

// Calls each(element) for every element of every field named `name` (a list field,
// RFC 9110 §5.3: repeated lines are one comma-separated list).
template <typename Each>
void for_each_element(const Request& request, std::string_view name, Each&& each) {
    for (const Header& field : request.fields) {
        if (!iequals(field.name, name)) continue;
        for_each_list_element(field.value, [&](std::string_view element) {
            if (!element.empty()) each(element);
        });
    }
}

}  // namespace pywebd::http
