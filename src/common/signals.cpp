#include "signals.hpp"

#include <signal.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <system_error>

namespace pywebd {

UniqueFd open_signalfd(std::initializer_list<int> signals) {
    sigset_t mask;
    sigemptyset(&mask);
    for (int signal : signals) sigaddset(&mask, signal);
    if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0)
        throw std::system_error(errno, std::generic_category(), "sigprocmask");
    UniqueFd fd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd) throw std::system_error(errno, std::generic_category(), "signalfd");
    return fd;
}

}  // namespace pywebd
