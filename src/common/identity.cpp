#include "identity.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/fsuid.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace pywebd {

std::optional<Identity> resolve_identity(const std::string& user, const std::string& group, std::string& error) {
    const passwd* pw = user.empty() ? ::getpwuid(::geteuid()) : ::getpwnam(user.c_str());
    if (pw == nullptr) {
        error = fmt::format("user '{}' does not exist", user);
        return std::nullopt;
    }
    Identity id{pw->pw_name, pw->pw_uid, pw->pw_gid, {}};
    if (!group.empty()) {
        const struct group* gr = ::getgrnam(group.c_str());
        if (gr == nullptr) {
            error = fmt::format("group '{}' does not exist", group);
            return std::nullopt;
        }
        id.gid = gr->gr_gid;
    }
    int count = 16;
    id.groups.resize(static_cast<std::size_t>(count));
    while (::getgrouplist(id.user.c_str(), id.gid, id.groups.data(), &count) < 0)
        id.groups.resize(static_cast<std::size_t>(count));
    id.groups.resize(static_cast<std::size_t>(count));
    return id;
}

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

FilesystemIdentity::FilesystemIdentity(const Identity* who) {
    if (who == nullptr || ::geteuid() != 0 || who->uid == 0) return;
    const int count = ::getgroups(0, nullptr);
    saved_groups_.resize(static_cast<std::size_t>(count > 0 ? count : 0));
    if (count > 0) ::getgroups(count, saved_groups_.data());
    ::setgroups(who->groups.size(), who->groups.data());
    ::setfsgid(who->gid);
    ::setfsuid(who->uid);  // drops CAP_DAC_OVERRIDE and friends from the effective set
    switched_ = true;
}

FilesystemIdentity::~FilesystemIdentity() {
    if (!switched_) return;
    ::setfsuid(0);  // restores the capabilities the switch dropped
    ::setfsgid(0);
    ::setgroups(saved_groups_.size(), saved_groups_.data());
}

}  // namespace pywebd
