#include "static/file_open.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

namespace pywebd {

OpenResult open_beneath(int root_fd, const char* relative) {
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd;
    do fd = ::syscall(SYS_openat2, root_fd, relative, &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return {UniqueFd(), errno};
    return {UniqueFd(static_cast<int>(fd)), 0};
}

OpenResult open_without_symlinks(int root_fd, const char* relative) {
    constexpr int kFile = O_PATH | O_CLOEXEC | O_NOFOLLOW;
    UniqueFd dir;
    int at = root_fd;
    const char* name = relative;
    char component[NAME_MAX + 1];
    for (const char* slash; (slash = std::strchr(name, '/')) != nullptr; name = slash + 1) {
        const auto length = static_cast<std::size_t>(slash - name);
        if (length == 0 || length > NAME_MAX) return {UniqueFd(), length == 0 ? EINVAL : ENAMETOOLONG};
        std::memcpy(component, name, length);
        component[length] = '\0';
        UniqueFd next(::openat(at, component, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next) return {UniqueFd(), errno};
        dir = std::move(next);
        at = dir.get();
    }
    UniqueFd fd(::openat(at, name, kFile));
    if (!fd) return {UniqueFd(), errno};
    // O_PATH | O_NOFOLLOW opens a final symlink itself rather than failing: refuse it here.
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return {UniqueFd(), errno};
    if (S_ISLNK(st.st_mode)) return {UniqueFd(), ELOOP};
    return {std::move(fd), 0};
}

Confinement detect_confinement() {
    const OpenResult probe = open_beneath(AT_FDCWD, ".");
    const bool blocked = !probe.fd && (probe.error == ENOSYS || probe.error == EPERM);
    return blocked ? Confinement::NoSymlinks : Confinement::Openat2;
}

OpenResult open_confined(int root_fd, const char* relative, Confinement confinement) {
    return confinement == Confinement::Openat2 ? open_beneath(root_fd, relative)
                                               : open_without_symlinks(root_fd, relative);
}

Located locate(int root_fd, const char* relative, Confinement confinement) {
    Located out;
    OpenResult path = open_confined(root_fd, relative, confinement);
    if (!path.fd) {
        out.error = path.error;
        return out;
    }
    if (::fstat(path.fd.get(), &out.st) != 0) {
        out.error = errno;
        return out;
    }
    if (!S_ISREG(out.st.st_mode)) {
        out.fd = std::move(path.fd);
        return out;
    }
    // Reopening the O_PATH descriptor's own inode: no second lookup that a rename could
    // redirect. Read permission is checked here (EACCES → 403).
    char proc_path[32];
    std::snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", path.fd.get());
    out.fd.reset(::open(proc_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (!out.fd) out.error = errno;
    return out;
}

std::uint16_t status_for_open_error(int error) {
    switch (error) {
    case ENOENT:
    case ENOTDIR:
    case EXDEV:  // a symlink or ".." pointing outside the root
    case ELOOP:
    case ENAMETOOLONG: return 404;
    case EACCES:
    case EPERM: return 403;
    case EMFILE:
    case ENFILE:
    case ENOMEM: return 503;
    default: return 500;
    }
}

}  // namespace pywebd
