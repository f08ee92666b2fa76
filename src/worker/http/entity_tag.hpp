#pragma once

#include <string_view>

#include "http/request.hpp"

namespace pywebd::http {

// Evaluates an If-Match / If-None-Match list (RFC 9110 §13.1.1, §13.1.2) across every
// field line with that name: true if "*" or some entity-tag matches `current_opaque`
// (the tag between its quotes). `weak` selects weak comparison (If-None-Match) rather
// than strong (If-Match, where a W/ tag never matches, nor anything when the current tag,
// `current_weak`, is weak itself). A malformed list matches nothing.
bool entity_tag_list_matches(const Request& request, std::string_view field_name, std::string_view current_opaque,
                             bool weak, bool current_weak = false);

// Parses one entity-tag ("xyz" or W/"xyz"); on success sets opaque and is_weak.
bool parse_entity_tag(std::string_view text, std::string_view& opaque, bool& is_weak);

}  // namespace pywebd::http
