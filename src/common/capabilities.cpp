#include "capabilities.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace pywebd {
namespace {

// The three 64-bit sets, as capget/capset exchange them (two 32-bit words each).
struct Sets {
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};

    static bool has(const __u32 (&words)[2], int cap) { return (words[cap / 32] >> (cap % 32)) & 1U; }
    bool permitted(int cap) const {
        const __u32 words[2] = {data[0].permitted, data[1].permitted};
        return has(words, cap);
    }
    bool effective(int cap) const {
        const __u32 words[2] = {data[0].effective, data[1].effective};
        return has(words, cap);
    }
    bool empty() const {
        for (const auto& words : data)
            if (words.effective != 0 || words.permitted != 0 || words.inheritable != 0) return false;
        return true;
    }
    void set_inheritable(int cap) { data[cap / 32].inheritable |= 1U << (cap % 32); }
    void set_effective(int cap, bool on) {
        const __u32 bit = 1U << (cap % 32);
        data[cap / 32].effective = on ? (data[cap / 32].effective | bit) : (data[cap / 32].effective & ~bit);
    }
};

bool get(Sets& sets) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    return ::syscall(SYS_capget, &header, sets.data) == 0;
}

bool set(const Sets& sets) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    return ::syscall(SYS_capset, &header, sets.data) == 0;
}

}  // namespace

std::optional<std::string> master_capabilities() {
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    Sets sets;
    if (!get(sets)) return fmt::format("capget: {}", std::strerror(errno));
    if (!sets.effective(CAP_DAC_READ_SEARCH) || ::geteuid() == 0) return std::nullopt;  // root reads keys anyway
    sets.set_effective(CAP_DAC_READ_SEARCH, false);
    if (!set(sets)) return fmt::format("capset: {}", std::strerror(errno));
    return std::nullopt;
}

std::optional<std::string> keep_capabilities_across_exec() {
    if (::geteuid() == 0) return std::nullopt;  // root has them after exec anyway
    Sets sets;
    if (!get(sets)) return fmt::format("capget: {}", std::strerror(errno));
    const int kept[] = {CAP_NET_BIND_SERVICE, CAP_DAC_READ_SEARCH};
    for (int cap : kept)
        if (sets.permitted(cap)) sets.set_inheritable(cap);  // ambient needs permitted and inheritable
    if (!set(sets)) return fmt::format("capset: {}", std::strerror(errno));
    for (int cap : kept) {
        if (!sets.permitted(cap)) continue;
        ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) != 1)
            return fmt::format("capability {} cannot be kept across exec (ambient)", cap);
    }
    return std::nullopt;
}

std::optional<std::string> drop_all_capabilities() {
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return fmt::format("clearing ambient capabilities: {}", std::strerror(errno));
    Sets held;
    if (get(held) && held.empty()) return std::nullopt;  // nothing to drop: no capset (a seccomp filter may forbid it)
    const Sets none;
    if (!set(none))
        return fmt::format(
            "workers cannot drop their capabilities (capset: {}); a systemd unit that grants "
            "AmbientCapabilities= must allow capset in SystemCallFilter=",
            std::strerror(errno));
    return std::nullopt;
}

CapabilitySets current_capabilities() {
    Sets sets;
    if (!get(sets)) return {};
    const auto join = [](__u32 low, __u32 high) { return (static_cast<unsigned long long>(high) << 32) | low; };
    return {join(sets.data[0].effective, sets.data[1].effective), join(sets.data[0].permitted, sets.data[1].permitted)};
}

ReadProtectedFiles::ReadProtectedFiles() {
    Sets sets;
    if (!get(sets) || sets.effective(CAP_DAC_READ_SEARCH) || !sets.permitted(CAP_DAC_READ_SEARCH)) return;
    sets.set_effective(CAP_DAC_READ_SEARCH, true);
    raised_ = set(sets);
}

ReadProtectedFiles::~ReadProtectedFiles() {
    if (!raised_) return;
    Sets sets;
    if (!get(sets)) return;
    sets.set_effective(CAP_DAC_READ_SEARCH, false);
    set(sets);
}

}  // namespace pywebd
