#pragma once

#include "cli.hpp"
#include "config.hpp"

namespace pywebd {

// The configuration pywebd runs with: the file named by -c (or the built-in defaults),
// then the command-line overrides, then validation. Used at start, by -t and on every
// reload, so all three agree. Throws ConfigError.
Config load_effective_config(const CliOptions& options);

}  // namespace pywebd
