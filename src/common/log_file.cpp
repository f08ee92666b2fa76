#include "log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace pywebd {
namespace {

// Who besides root may create, rename or remove entries in a directory; empty: nobody.
std::string other_writers(const struct stat& dir) {
    if (dir.st_uid != 0) return fmt::format("uid {}", dir.st_uid);
    if ((dir.st_mode & S_IWGRP) && dir.st_gid != 0) return fmt::format("group {}", dir.st_gid);
    if (dir.st_mode & S_IWOTH) return "others";
    return {};
}

}  // namespace

OpenedLog open_log_file(const std::filesystem::path& path) {
    const std::filesystem::path parent = path.has_parent_path() ? path.parent_path() : ".";
    auto refuse = [&](const std::string& why) {
        return OpenedLog{UniqueFd(), fmt::format("{}: {}", path.string(), why)};
    };
    UniqueFd dir(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return refuse(std::strerror(errno));
    if (::geteuid() == 0) {
        struct stat st {};
        if (::fstat(dir.get(), &st) != 0) return refuse(std::strerror(errno));
        if (const std::string who = other_writers(st); !who.empty())
            return refuse(
                fmt::format("directory {} is writable by {}, and the master runs as root: make it owned by root and "
                            "writable by root alone, or run the master as the workers' user",
                            parent.string(), who));
    }
    // O_NONBLOCK: opening a FIFO for writing would otherwise wait for a reader.
    const int flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
    UniqueFd fd(::openat(dir.get(), path.filename().c_str(), flags, 0640));
    struct stat st {};
    if (!fd) {
        const int error = errno;
        if (error == ELOOP) return refuse("is a symbolic link, refused");
        // A FIFO without a reader fails with ENXIO: say what it is rather than that.
        const bool exists = ::fstatat(dir.get(), path.filename().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
        return refuse(exists && !S_ISREG(st.st_mode) ? "not a regular file, refused" : std::strerror(error));
    }
    if (::fstat(fd.get(), &st) != 0) return refuse(std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return refuse("not a regular file, refused");
    return {std::move(fd), {}};
}

}  // namespace pywebd
