#pragma once

#include <cstdint>

#include "unique_fd.hpp"

namespace pywebd {

struct OpenResult {
    UniqueFd fd;
    int error = 0;  // errno when !fd
};

// Opens `relative` (NUL-terminated, no leading '/') for reading beneath the directory
// `root_fd` with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): the kernel refuses
// any path, through ".." or a symlink, that would leave the root (EXDEV). O_NONBLOCK
// keeps a FIFO or device from blocking the worker in open().
OpenResult open_beneath(int root_fd, const char* relative);

// Whether this kernel and its seccomp policy allow openat2 (Linux >= 5.6).
bool openat2_available();

// The HTTP status for a failed open: 404 for what does not exist or may not be
// reached (ENOENT, ENOTDIR, EXDEV, ELOOP …), 403 for EACCES, 503 when out of fds.
std::uint16_t status_for_open_error(int error);

}  // namespace pywebd
