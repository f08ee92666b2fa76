#pragma once

#include <optional>
#include <string>

#include "identity.hpp"

namespace pywebd {

// In a worker started as root: switch to `who` (its uid, gid and supplementary groups).
// Not root: nothing to do, unless `who` is someone else, which is an error. Returns an
// error text on failure.
std::optional<std::string> drop_privileges(const Identity& who);

}  // namespace pywebd
