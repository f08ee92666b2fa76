#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace pywebd {

// The identity workers take: the configured user, its (or the configured) group and the
// user's supplementary groups, resolved from the names once.
struct Identity {
    std::string user;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
};

// Resolves `user` (empty: the current user) and `group` (empty: the user's primary
// group); nullopt with `error` set if a name does not exist.
std::optional<Identity> resolve_identity(const std::string& user, const std::string& group, std::string& error);

// In a worker started as root: switch to `who` (its uid, gid and supplementary groups).
// Not root: nothing to do, unless `who` is someone else, which is an error. Returns an
// error text on failure.
std::optional<std::string> drop_privileges(const Identity& who);

// While it lives, the file system checks access as `who` (setfsuid, setfsgid, setgroups),
// when the process is root and `who` is not: a root master opens files for its
// unprivileged workers with their rights, so no path the workers can change leads it
// to a file they could not write themselves. Needs a single-threaded process, as the
// master is (setgroups applies to all threads).
class FilesystemIdentity {
public:
    explicit FilesystemIdentity(const Identity* who);
    ~FilesystemIdentity();
    FilesystemIdentity(const FilesystemIdentity&) = delete;
    FilesystemIdentity& operator=(const FilesystemIdentity&) = delete;

    bool switched() const { return switched_; }

private:
    bool switched_ = false;
    std::vector<gid_t> saved_groups_;
};

}  // namespace pywebd
