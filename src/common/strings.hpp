#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace pywebd {

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// ASCII case-insensitive equality (HTTP field names, tokens, units).
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

// The value paired with `name` in `table`, compared ASCII case-insensitively; `none` if
// no entry has it. For the short tables of field names a parser knows.
template <typename Value, std::size_t N>
constexpr Value find_ignoring_case(std::string_view name, const std::pair<std::string_view, Value> (&table)[N],
                                   Value none) noexcept {
    for (const auto& [key, value] : table)
        if (iequals(name, key)) return value;
    return none;
}

inline std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = ascii_lower(c);
    return out;
}

// Appends `text` so that a client's bytes cannot forge or colour a log line: `"` and `\`
// get a backslash, control and non-ASCII bytes become \xHH.
inline void append_log_escaped(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (byte < 0x20 || byte >= 0x7F) {
            const char escaped[4] = {'\\', 'x', kHex[byte >> 4], kHex[byte & 15]};
            out.append(escaped, 4);
        } else {
            out.push_back(c);
        }
    }
}

inline std::string log_escaped(std::string_view text) {
    std::string out;
    append_log_escaped(out, text);
    return out;
}

constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

// Strips optional whitespace (SP / HTAB) from both ends.
constexpr std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

// Calls `each(element)` for every element of a comma-separated list (RFC 9110 §5.6.1),
// with OWS trimmed. Empty elements are passed too, so strict callers can refuse them.
template <typename Each>
constexpr void for_each_list_element(std::string_view list, Each&& each) {
    for (;;) {
        const auto comma = list.find(',');
        each(trim_ows(list.substr(0, comma)));
        if (comma == std::string_view::npos) return;
        list.remove_prefix(comma + 1);
    }
}

}  // namespace pywebd
