#include "config_values.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <utility>

#include "strings.hpp"

namespace pywebd {
namespace {

// Splits "16KiB" into 16 and "KiB". nullopt unless the text starts with digits.
std::optional<std::pair<std::uint64_t, std::string_view>> split_number(std::string_view text) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data()) return std::nullopt;
    return std::pair{value, text.substr(static_cast<std::size_t>(end - text.data()))};
}

std::optional<std::uint64_t> scaled(std::uint64_t value, std::uint64_t unit) {
    if (value > std::numeric_limits<std::uint64_t>::max() / unit) return std::nullopt;
    return value * unit;
}

}  // namespace

std::optional<std::size_t> parse_bytes(std::string_view text) {
    const auto parts = split_number(text);
    if (!parts) return std::nullopt;
    struct Unit {
        std::string_view suffix;
        std::uint64_t factor;
    };
    static constexpr std::array<Unit, 10> kUnits = {{{"", 1},
                                                     {"b", 1},
                                                     {"k", 1ULL << 10},
                                                     {"kib", 1ULL << 10},
                                                     {"kb", 1ULL << 10},
                                                     {"m", 1ULL << 20},
                                                     {"mib", 1ULL << 20},
                                                     {"mb", 1ULL << 20},
                                                     {"g", 1ULL << 30},
                                                     {"gib", 1ULL << 30}}};
    for (const Unit& unit : kUnits)
        if (iequals(parts->second, unit.suffix)) return scaled(parts->first, unit.factor);
    return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    const auto parts = split_number(text);
    if (!parts) return std::nullopt;
    struct Unit {
        std::string_view suffix;
        std::uint64_t millis;
    };
    static constexpr std::array<Unit, 6> kUnits = {
        {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}};
    for (const Unit& unit : kUnits) {
        if (parts->second != unit.suffix) continue;
        const auto millis = scaled(parts->first, unit.millis);
        // Keep durations far from chrono overflow when added to a time point.
        if (!millis || *millis > 365ULL * 24 * 3'600'000) return std::nullopt;
        return std::chrono::milliseconds(static_cast<std::int64_t>(*millis));
    }
    return std::nullopt;
}

std::optional<bool> parse_bool(std::string_view text) {
    for (std::string_view yes : {"true", "yes", "on"})
        if (iequals(text, yes)) return true;
    for (std::string_view no : {"false", "no", "off"})
        if (iequals(text, no)) return false;
    return std::nullopt;
}

}  // namespace pywebd
