#include "http/byte_ranges.hpp"

#include <algorithm>
#include <limits>

#include "strings.hpp"

namespace pywebd::http {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
// A client may list at most this many specs before we stop parsing, merged or not:
// parsing is then bounded by the header size and this count, not by the client.
constexpr std::size_t kMaxSpecs = 1024;

// 1*DIGIT, saturating at kMax.
bool take_number(std::string_view& s, std::uint64_t& out) {
    std::size_t i = 0;
    out = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        const auto digit = static_cast<std::uint64_t>(s[i] - '0');
        out = out > (kMax - digit) / 10 ? kMax : out * 10 + digit;
        ++i;
    }
    s.remove_prefix(i);
    return i > 0;
}

enum class Spec : std::uint8_t { Bad, Unsatisfiable, Ok };

// int-range = first-pos "-" [ last-pos ] ; suffix-range = "-" suffix-length
Spec parse_spec(std::string_view s, std::uint64_t size, ByteRange& out) {
    if (s.starts_with('-')) {
        s.remove_prefix(1);
        std::uint64_t suffix = 0;
        if (!take_number(s, suffix) || !s.empty()) return Spec::Bad;
        if (suffix == 0 || size == 0) return Spec::Unsatisfiable;
        out = {size - std::min(suffix, size), size - 1};
        return Spec::Ok;
    }
    std::uint64_t first = 0, last = kMax;
    if (!take_number(s, first) || !s.starts_with('-')) return Spec::Bad;
    s.remove_prefix(1);
    if (!s.empty() && (!take_number(s, last) || !s.empty())) return Spec::Bad;
    if (last < first) return Spec::Bad;  // §14.1.1: invalid
    if (first >= size) return Spec::Unsatisfiable;
    out = {first, std::min(last, size - 1)};
    return Spec::Ok;
}

bool ordered_and_apart(const std::vector<ByteRange>& ranges) {
    for (std::size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first <= ranges[i - 1].last + 1) return false;
    return true;
}

void sort_and_merge(std::vector<ByteRange>& ranges) {
    std::sort(ranges.begin(), ranges.end(), [](const ByteRange& a, const ByteRange& b) { return a.first < b.first; });
    std::size_t kept = 0;
    for (std::size_t i = 1; i < ranges.size(); ++i) {
        if (ranges[i].first <= ranges[kept].last + 1)
            ranges[kept].last = std::max(ranges[kept].last, ranges[i].last);
        else
            ranges[++kept] = ranges[i];
    }
    ranges.resize(kept + 1);
}

}  // namespace

RangeOutcome parse_range(std::string_view value, std::uint64_t size, std::size_t max_ranges,
                         std::vector<ByteRange>& out) {
    out.clear();
    value = trim_ows(value);
    const auto equals = value.find('=');
    if (equals == std::string_view::npos || !iequals(value.substr(0, equals), "bytes")) return RangeOutcome::Ignore;
    bool bad = false;
    std::size_t specs = 0;
    for_each_list_element(value.substr(equals + 1), [&](std::string_view spec) {
        if (bad || spec.empty()) return;  // empty list elements are allowed (§5.6.1)
        if (++specs > kMaxSpecs) {
            bad = true;
            return;
        }
        ByteRange range;
        switch (parse_spec(spec, size, range)) {
        case Spec::Bad: bad = true; break;
        case Spec::Unsatisfiable: break;
        case Spec::Ok: out.push_back(range); break;
        }
    });
    if (bad || specs == 0) {
        out.clear();
        return RangeOutcome::Ignore;
    }
    if (out.empty()) return RangeOutcome::Unsatisfiable;
    if (!ordered_and_apart(out)) sort_and_merge(out);
    if (out.size() > max_ranges) {
        out.clear();
        return RangeOutcome::Ignore;
    }
    return RangeOutcome::Satisfiable;
}

}  // namespace pywebd::http
