#pragma once

#include <array>
#include <cstdint>
#include <string_view>

// Character classes of RFC 9110 / RFC 9112 / RFC 3986, as lookup tables.
namespace pywebd::http::chars {

enum : std::uint8_t {
    kTchar = 1 << 0,       // token characters (RFC 9110 §5.6.2)
    kFieldValue = 1 << 1,  // VCHAR / obs-text / SP / HTAB (RFC 9110 §5.5)
    kTargetChar = 1 << 2,  // what a request-target may hold (RFC 3986 pchar, '/', '?', '%', '[', ']')
    kHostChar = 1 << 3,    // reg-name / IP-literal / port (RFC 3986 §3.2.2)
};

constexpr std::array<std::uint8_t, 256> make_table() {
    std::array<std::uint8_t, 256> table{};
    auto mark = [&](std::string_view set, std::uint8_t bit) {
        for (char c : set) table[static_cast<unsigned char>(c)] |= bit;
    };
    constexpr std::string_view alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    mark(alnum, kTchar | kTargetChar | kHostChar);
    mark("!#$%&'*+-.^_`|~", kTchar);
    mark("-._~!$&'()*+,;=:@/?%[]", kTargetChar);
    mark("-._~!$&'()*+,;=%:[]", kHostChar);
    for (int c = 0x21; c <= 0x7e; ++c) table[c] |= kFieldValue;
    for (int c = 0x80; c <= 0xff; ++c) table[c] |= kFieldValue;
    table[' '] |= kFieldValue;
    table['\t'] |= kFieldValue;
    return table;
}

inline constexpr std::array<std::uint8_t, 256> kTable = make_table();

constexpr bool is(char c, std::uint8_t bit) { return (kTable[static_cast<unsigned char>(c)] & bit) != 0; }
constexpr bool is_tchar(char c) { return is(c, kTchar); }
constexpr bool is_field_value(char c) { return is(c, kFieldValue); }
constexpr bool is_target_char(char c) { return is(c, kTargetChar); }
constexpr bool is_host_char(char c) { return is(c, kHostChar); }

constexpr bool all_of(std::string_view s, std::uint8_t bit) {
    for (char c : s)
        if (!is(c, bit)) return false;
    return true;
}

}  // namespace pywebd::http::chars
