#include "http/decide.hpp"

#include "http/entity_tag.hpp"
#include "http/http_date.hpp"

namespace pywebd::http {
namespace {

// §13.1.3/§13.1.4: a date that does not parse is ignored, as if the field were absent.
std::optional<std::time_t> date_of(const std::optional<std::string_view>& field) {
    return field ? parse_http_date(*field) : std::nullopt;
}

// §13.1.5: If-Range holds if its entity-tag strongly matches, or its date exactly
// equals Last-Modified. A weak tag never holds.
bool if_range_holds(std::string_view value, const FileFacts& file, const ETag& etag) {
    std::string_view opaque;
    bool weak = false;
    if (parse_entity_tag(value, opaque, weak)) return !weak && !etag.weak && opaque == etag.opaque();
    const auto date = parse_http_date(value);
    return date && *date == file.mtime;
}

}  // namespace

Outcome decide(const Request& request, const FileFacts& file, const ETag& etag, std::size_t max_ranges,
               std::vector<ByteRange>& ranges) {
    ranges.clear();
    // Step 1-2: If-Match, else If-Unmodified-Since.
    if (request.has_if_match) {
        // Strong comparison: a weak current tag (a coding made on the fly) matches only "*".
        if (!entity_tag_list_matches(request, "if-match", etag.opaque(), false, etag.weak))
            return Outcome::PreconditionFailed;
    } else if (const auto since = date_of(request.if_unmodified_since); since && file.mtime > *since) {
        return Outcome::PreconditionFailed;
    }
    // Step 3-4: If-None-Match, else If-Modified-Since (only GET and HEAD get here).
    if (request.has_if_none_match) {
        if (entity_tag_list_matches(request, "if-none-match", etag.opaque(), true)) return Outcome::NotModified;
    } else if (const auto since = date_of(request.if_modified_since); since && file.mtime <= *since) {
        return Outcome::NotModified;
    }
    // Step 5: Range applies to GET only (§14.2).
    if (request.method != Method::Get || !request.range) return Outcome::Whole;
    if (request.if_range && !if_range_holds(*request.if_range, file, etag)) return Outcome::Whole;
    switch (parse_range(*request.range, file.size, max_ranges, ranges)) {
    case RangeOutcome::Ignore: return Outcome::Whole;
    case RangeOutcome::Unsatisfiable: return Outcome::RangeNotSatisfiable;
    case RangeOutcome::Satisfiable: return Outcome::Partial;
    }
    return Outcome::Whole;
}

}  // namespace pywebd::http
