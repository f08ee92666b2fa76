#include "log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace pywebd {

OpenedLog open_log_file(const std::filesystem::path& path, const Identity* as) {
    const FilesystemIdentity identity(as);
    auto refuse = [&](const std::string& why) {
        const std::string who = identity.switched() ? fmt::format(" (as user {})", as->user) : std::string();
        return OpenedLog{UniqueFd(), fmt::format("{}{}: {}", path.string(), who, why)};
    };
    // O_NONBLOCK: opening a FIFO for writing would otherwise wait for a reader.
    const int flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
    UniqueFd fd(::open(path.c_str(), flags, 0640));
    struct stat st {};
    if (!fd) {
        const int error = errno;
        if (error == ELOOP) return refuse("is a symbolic link, refused");
        // A FIFO without a reader fails with ENXIO: say what it is rather than that.
        const bool exists = ::lstat(path.c_str(), &st) == 0;
        return refuse(exists && !S_ISREG(st.st_mode) ? "not a regular file, refused" : std::strerror(error));
    }
    if (::fstat(fd.get(), &st) != 0) return refuse(std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return refuse("not a regular file, refused");
    return {std::move(fd), {}};
}

}  // namespace pywebd
