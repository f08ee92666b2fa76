#include "core/worker_process.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <csignal>

#include "capabilities.hpp"
#include "core/worker.hpp"
#include "exit_code.hpp"

namespace pywebd {
namespace {

// Closes every descriptor of a freshly forked worker except those it needs, so it holds
// no other worker's channel nor the master's signalfd and epoll.
void close_fds_except(std::vector<int> keep) {
    keep.push_back(0);
    keep.push_back(1);
    keep.push_back(2);
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    unsigned next = 0;
    for (int fd : keep) {
        if (fd < 0) continue;
        if (static_cast<unsigned>(fd) > next) ::close_range(next, static_cast<unsigned>(fd) - 1, 0);
        next = static_cast<unsigned>(fd) + 1;
    }
    ::close_range(next, ~0U, 0);
}

}  // namespace

void run_worker_process(WorkerLaunch launch) {
    Logger& log = launch.log;
    ::unsetenv("NOTIFY_SOCKET");
    std::vector<int> keep;
    for (const WorkerListener& l : launch.listeners) keep.push_back(l.fd);
    keep.push_back(launch.channel.get());
    keep.push_back(launch.access_log.get());
    keep.push_back(log.fd());
    close_fds_except(keep);
    log.set_role(fmt::format("worker {}", launch.slot));
    if (const auto error = drop_privileges(launch.identity)) {
        log.crit("{}", *error);
        ::_exit(kWorkerFatalStatus);
    }
    if (const auto error = drop_all_capabilities()) {  // e.g. the packaged master's CAP_DAC_READ_SEARCH
        log.crit("{}", *error);
        ::_exit(kWorkerFatalStatus);
    }
    // A worker must not outlive its master: if the master dies, drain and exit. Set after
    // the privilege drop, which clears it; then check the master did not die before it.
    ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (::getppid() != launch.master) ::_exit(0);
    int death_signal = 0;
    ::prctl(PR_GET_PDEATHSIG, &death_signal);
    const CapabilitySets caps = current_capabilities();
    log.debug("worker identity slot={} uid={} gid={} capabilities={:x}/{:x} parent_death_signal={}", launch.slot,
              ::getuid(), ::getgid(), caps.effective, caps.permitted, death_signal);
    int status;
    {
        Worker worker(WorkerSetup{launch.config, launch.mime, std::move(launch.listeners), std::move(launch.channel),
                                  std::move(launch.access_log), launch.slot, log, launch.tls, launch.ticket_keys,
                                  launch.metrics, launch.metrics_slot});
        status = worker.run();
    }
    ::_exit(status);
}

}  // namespace pywebd
