#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace pywebd {

std::optional<std::string> drop_privileges(const std::string& user, const std::string& group) {
    if (user.empty() && group.empty()) return std::nullopt;
    passwd* pw = user.empty() ? ::getpwuid(::geteuid()) : ::getpwnam(user.c_str());
    if (pw == nullptr) return fmt::format("user '{}' does not exist", user);
    gid_t gid = pw->pw_gid;
    if (!group.empty()) {
        struct group* gr = ::getgrnam(group.c_str());
        if (gr == nullptr) return fmt::format("group '{}' does not exist", group);
        gid = gr->gr_gid;
    }
    if (::geteuid() != 0) {
        if (pw->pw_uid != ::geteuid() || gid != ::getegid())
            return fmt::format("cannot switch to user '{}' group {}: not started as root", user, gid);
        return std::nullopt;
    }
    if (::initgroups(pw->pw_name, gid) != 0)
        return fmt::format("initgroups({}): {}", pw->pw_name, std::strerror(errno));
    if (::setgid(gid) != 0) return fmt::format("setgid({}): {}", gid, std::strerror(errno));
    if (::setuid(pw->pw_uid) != 0) return fmt::format("setuid({}): {}", pw->pw_uid, std::strerror(errno));
    return std::nullopt;
}

}  // namespace pywebd
