#pragma once

#include <initializer_list>

#include "unique_fd.hpp"

namespace pywebd {

// Blocks `signals` for the calling process and returns a non-blocking signalfd that
// reports them. Throws std::system_error.
UniqueFd open_signalfd(std::initializer_list<int> signals);

}  // namespace pywebd
