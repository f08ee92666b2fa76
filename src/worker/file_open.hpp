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

// Opens `relative` beneath `root_fd` without openat2: one component at a time with
// O_NOFOLLOW, so every symlink is refused (ELOOP), even one that stays inside. `relative`
// must be normalised (no "..", no empty segment), as NormalPath::relative() is.
OpenResult open_without_symlinks(int root_fd, const char* relative);

// How paths are kept beneath the root. openat2 where the kernel (>= 5.6) and the seccomp
// policy allow it; systemd's RestrictSUIDSGID=, for one, makes openat2 fail with ENOSYS.
// The fallback is stricter, never looser: it follows no symlink at all.
enum class Confinement : std::uint8_t { Openat2, NoSymlinks };
Confinement detect_confinement();
OpenResult open_confined(int root_fd, const char* relative, Confinement confinement);

// The HTTP status for a failed open: 404 for what does not exist or may not be
// reached (ENOENT, ENOTDIR, EXDEV, ELOOP …), 403 for EACCES, 503 when out of fds.
std::uint16_t status_for_open_error(int error);

}  // namespace pywebd
