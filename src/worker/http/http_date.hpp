#pragma once

#include <ctime>
#include <optional>
#include <string_view>

namespace pywebd::http {

inline constexpr std::size_t kHttpDateLength = 29;  // "Sun, 06 Nov 1994 08:49:37 GMT"

// Writes the IMF-fixdate form of `t` (RFC 9110 §5.6.7) into `out`, which must hold
// kHttpDateLength bytes. Returns the bytes written.
std::size_t format_http_date(std::time_t t, char* out);

// Parses any of the three HTTP-date forms a recipient must accept (IMF-fixdate, RFC 850,
// asctime). nullopt if the text is not one of them exactly.
std::optional<std::time_t> parse_http_date(std::string_view text);

}  // namespace pywebd::http
