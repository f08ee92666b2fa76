#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace pywebd::http {

struct ByteRange {
    std::uint64_t first = 0;  // inclusive
    std::uint64_t last = 0;   // inclusive
    std::uint64_t length() const { return last - first + 1; }
    bool operator==(const ByteRange&) const = default;
};

enum class RangeOutcome : std::uint8_t {
    Ignore,         // not a bytes range, malformed, or too many parts: send the whole file
    Satisfiable,    // `out` holds one or more ranges to send, in order, none overlapping
    Unsatisfiable,  // 416 with "Content-Range: bytes */size"
};

// Parses a Range field value (RFC 9110 §14.1.2) against a representation of `size`
// bytes. Ranges are clipped to the file; when they overlap, touch, or are out of order
// they are sorted and merged (§14.2 lets a server coalesce), so no request can make us
// send a byte twice. More than `max_ranges` parts after merging is ignored (200), as is
// a malformed header. Numbers too large to hold saturate, so nothing overflows.
// `out` is cleared and reused.
RangeOutcome parse_range(std::string_view value, std::uint64_t size, std::size_t max_ranges,
                         std::vector<ByteRange>& out);

}  // namespace pywebd::http
