#pragma once

#include <sys/stat.h>

#include <cstdint>

#include "unique_fd.hpp"

namespace pywebd {

struct OpenResult {
    UniqueFd fd;
    int error = 0;  // errno when !fd
};

// Looks up `relative` (NUL-terminated, no leading '/') beneath the directory `root_fd`
// with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): the kernel refuses any path,
// through ".." or a symlink, that would leave the root (EXDEV). The result is an O_PATH
// descriptor: nothing is opened for I/O yet (see locate()).
OpenResult open_beneath(int root_fd, const char* relative);

// The same without openat2: one component at a time with O_NOFOLLOW, so every symlink
// is refused (ELOOP), even one that stays inside. `relative` must be normalised (no
// "..", no empty segment), as NormalPath::relative() is. Also an O_PATH descriptor.
OpenResult open_without_symlinks(int root_fd, const char* relative);

// How paths are kept beneath the root. openat2 where the kernel (>= 5.6) and the seccomp
// policy allow it; systemd's RestrictSUIDSGID=, for one, makes openat2 fail with ENOSYS.
// The fallback is stricter, never looser: it follows no symlink at all.
enum class Confinement : std::uint8_t { Openat2, NoSymlinks };
Confinement detect_confinement();
OpenResult open_confined(int root_fd, const char* relative, Confinement confinement);

// What a path beneath the root names. Looked up with O_PATH, which opens nothing for
// I/O, and stat'ed; only a regular file is then opened for reading (through
// /proc/self/fd, so it is the very inode that was checked). A directory keeps its O_PATH
// descriptor (enough to look up names in it); a FIFO, socket or device node is never
// opened: opening some devices has effects, and opening a FIFO releases its writer.
struct Located {
    UniqueFd fd;  // readable for a regular file; O_PATH otherwise
    struct stat st {};
    int error = 0;  // errno when !fd
};
Located locate(int root_fd, const char* relative, Confinement confinement);

// The HTTP status for a failed open: 404 for what does not exist or may not be
// reached (ENOENT, ENOTDIR, EXDEV, ELOOP …), 403 for EACCES, 503 when out of fds.
std::uint16_t status_for_open_error(int error);

}  // namespace pywebd
