#pragma once

#include <optional>
#include <string_view>

namespace pywebd::http {

// The host of a request's authority (Host, or an absolute-form target's), without its
// port: a name of letters, digits, '-', '.' and '_', or a bracketed IPv6 literal. A port,
// if any, must be 1 to 65535. nullopt for anything else ("[::1", "::1", "a:b",
// "a:99999", "[::1]x"), so a host is safe to put into a URL as it is. Virtual hosts
// will choose a site with it.
std::optional<std::string_view> host_of(std::string_view authority);

}  // namespace pywebd::http
