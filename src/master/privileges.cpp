#include "privileges.hpp"

#include <grp.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace pywebd {

std::optional<std::string> drop_privileges(const Identity& who) {
    if (::geteuid() != 0) {
        if (who.uid != ::geteuid() || who.gid != ::getegid())
            return fmt::format("cannot switch to user '{}' group {}: not started as root", who.user, who.gid);
        return std::nullopt;
    }
    if (::setgroups(who.groups.size(), who.groups.data()) != 0)
        return fmt::format("setgroups for {}: {}", who.user, std::strerror(errno));
    if (::setgid(who.gid) != 0) return fmt::format("setgid({}): {}", who.gid, std::strerror(errno));
    if (::setuid(who.uid) != 0) return fmt::format("setuid({}): {}", who.uid, std::strerror(errno));
    return std::nullopt;
}

}  // namespace pywebd
