#pragma once

#include <filesystem>
#include <string>

#include "identity.hpp"
#include "unique_fd.hpp"

namespace pywebd {

// A log file opened for appending, or why it could not be.
struct OpenedLog {
    UniqueFd fd;
    std::string error;  // set when !fd: names the file, the user and the reason
};

// Opens (creating 0640) a log file for appending, the way a root master may safely do
// for its workers: with the workers' identity `as` (see FilesystemIdentity; null: our
// own), so it can only open what they could; never through a symlink in place of the
// file; and only a regular file (a FIFO or device is refused without blocking).
OpenedLog open_log_file(const std::filesystem::path& path, const Identity* as = nullptr);

}  // namespace pywebd
