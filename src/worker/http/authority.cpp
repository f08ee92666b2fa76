#include "http/authority.hpp"

#include <algorithm>

namespace pywebd::http {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool valid_port(std::string_view port) {
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) return false;
    unsigned value = 0;
    for (const char c : port) value = value * 10 + static_cast<unsigned>(c - '0');
    return value >= 1 && value <= 65535;
}

}  // namespace

std::optional<std::string_view> host_of(std::string_view authority) {
    std::string_view host = authority, rest;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        const std::string_view inside = authority.substr(1, close - 1);
        const bool literal =
            inside.find(':') != std::string_view::npos &&
            std::all_of(inside.begin(), inside.end(), [](char c) { return is_hex(c) || c == ':' || c == '.'; });
        if (!literal) return std::nullopt;
        host = authority.substr(0, close + 1);
        rest = authority.substr(close + 1);
    } else {
        const auto colon = authority.find(':');
        host = authority.substr(0, colon);
        rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
        const bool name = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
            return is_alnum(c) || c == '-' || c == '.' || c == '_';
        });
        if (!name) return std::nullopt;
    }
    if (!rest.empty() && (rest.front() != ':' || !valid_port(rest.substr(1)))) return std::nullopt;
    return host;
}

}  // namespace pywebd::http
