#pragma once

#include <filesystem>
#include <string>

#include "unique_fd.hpp"

namespace pywebd {

// A log file opened for appending, or why it could not be.
struct OpenedLog {
    UniqueFd fd;
    std::string error;  // set when !fd: names the file and the reason
};

// Opens (creating 0640) a log file for appending, the way a root master may safely do
// for unprivileged workers: the last component is never followed as a symlink, only a
// regular file is accepted (a FIFO or device is refused without blocking), and when
// the caller is root the directory must be writable by root alone — anyone else who
// may write there could put another file under the log's name between two opens. The
// file is opened relative to the directory it was checked in.
OpenedLog open_log_file(const std::filesystem::path& path);

}  // namespace pywebd
