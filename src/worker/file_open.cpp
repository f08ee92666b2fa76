#include "file_open.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace pywebd {

OpenResult open_beneath(int root_fd, const char* relative) {
    open_how how{};
    how.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd;
    do fd = ::syscall(SYS_openat2, root_fd, relative, &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return {UniqueFd(), errno};
    return {UniqueFd(static_cast<int>(fd)), 0};
}

bool openat2_available() {
    const OpenResult probe = open_beneath(AT_FDCWD, ".");
    return probe.fd.valid() || (probe.error != ENOSYS && probe.error != EPERM);
}

std::uint16_t status_for_open_error(int error) {
    switch (error) {
    case ENOENT:
    case ENOTDIR:
    case EXDEV:         // a symlink or ".." pointing outside the root
    case ELOOP:
    case ENAMETOOLONG:
        return 404;
    case EACCES:
    case EPERM:
        return 403;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        return 503;
    default:
        return 500;
    }
}

}  // namespace pywebd
