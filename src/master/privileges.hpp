#pragma once

#include <optional>
#include <string>

namespace pywebd {

// In a worker started as root: switch to `user` (and `group`, else the user's primary
// group) with its supplementary groups. Not root: nothing to do, unless a user other
// than the current one is named, which is an error. Returns an error text on failure.
std::optional<std::string> drop_privileges(const std::string& user, const std::string& group);

}  // namespace pywebd
