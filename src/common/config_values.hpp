#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

namespace pywebd {

// "4096", "16k", "16KiB", "1m", "1MiB", "1g" (binary multiples). nullopt if malformed
// or if the value does not fit.
std::optional<std::size_t> parse_bytes(std::string_view text);

// "10" (seconds), "10s", "500ms", "2m", "1h", "7d". nullopt if malformed or too large.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// true/false, yes/no, on/off, case-insensitive.
std::optional<bool> parse_bool(std::string_view text);

}  // namespace pywebd
