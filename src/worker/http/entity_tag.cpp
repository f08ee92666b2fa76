#include "http/entity_tag.hpp"

#include <cinttypes>
#include <cstdio>

#include "http/file_facts.hpp"
#include "strings.hpp"

namespace pywebd {

ETag make_etag(const FileFacts& file) {
    ETag tag;
    const int n =
        std::snprintf(tag.text, sizeof tag.text, "\"%" PRIx64 "-%" PRIx64 "-%llx.%lx\"", file.inode, file.size,
                      static_cast<unsigned long long>(file.mtime), static_cast<unsigned long>(file.mtime_nsec));
    tag.length = static_cast<std::size_t>(n);
    return tag;
}

namespace http {
namespace {

// etagc = %x21 / %x23-7E / obs-text
bool is_etagc(char c) {
    const auto b = static_cast<unsigned char>(c);
    return b == 0x21 || (b >= 0x23 && b <= 0x7E) || b >= 0x80;
}

// Reads one entity-tag at the front of `s`, advancing past it.
bool take_entity_tag(std::string_view& s, std::string_view& opaque, bool& is_weak) {
    is_weak = s.starts_with("W/");
    if (is_weak) s.remove_prefix(2);
    if (s.empty() || s.front() != '"') return false;
    std::size_t end = 1;
    while (end < s.size() && s[end] != '"') {
        if (!is_etagc(s[end])) return false;
        ++end;
    }
    if (end == s.size()) return false;
    opaque = s.substr(1, end - 1);
    s.remove_prefix(end + 1);
    return true;
}

// Walks a field value: "*" or 1#entity-tag. Entity tags may contain commas, so the
// generic list splitter cannot be used. Returns false if malformed.
template <typename Each>
bool for_each_tag(std::string_view value, bool& star, Each&& each) {
    value = trim_ows(value);
    if (value == "*") {
        star = true;
        return true;
    }
    for (;;) {
        while (!value.empty() && (value.front() == ',' || is_ows(value.front()))) value.remove_prefix(1);
        if (value.empty()) return true;
        std::string_view opaque;
        bool weak = false;
        if (!take_entity_tag(value, opaque, weak)) return false;
        each(opaque, weak);
        while (!value.empty() && is_ows(value.front())) value.remove_prefix(1);
        if (!value.empty() && value.front() != ',') return false;
    }
}

}  // namespace

bool parse_entity_tag(std::string_view text, std::string_view& opaque, bool& is_weak) {
    text = trim_ows(text);
    return take_entity_tag(text, opaque, is_weak) && text.empty();
}

bool entity_tag_list_matches(const Request& request, std::string_view field_name, std::string_view current_opaque,
                             bool weak, bool current_weak) {
    bool matched = false;
    for (const Header& field : request.fields) {
        if (!iequals(field.name, field_name)) continue;
        bool star = false;
        const bool ok = for_each_tag(field.value, star, [&](std::string_view opaque, bool is_weak) {
            if (opaque == current_opaque && (weak || (!is_weak && !current_weak))) matched = true;
        });
        if (!ok) return false;
        if (star) matched = true;
    }
    return matched;
}

}  // namespace http
}  // namespace pywebd
