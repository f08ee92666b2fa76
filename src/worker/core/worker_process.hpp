#pragma once

// A worker's start after fork: what the master hands it, and the bootstrap that turns
// the forked copy of the master into a worker (descriptors, identity, parent death).

#include <sys/types.h>

#include <vector>

#include "config.hpp"
#include "core/worker.hpp"
#include "identity.hpp"
#include "log.hpp"
#include "mime_types.hpp"
#include "unique_fd.hpp"

namespace pywebd {

// Everything a freshly forked worker needs from its master.
struct WorkerLaunch {
    const Config& config;
    const MimeTypes& mime;
    const Identity& identity;  // who it runs as
    std::vector<WorkerListener> listeners;
    const TlsContext* tls = nullptr;
    TicketKeys* ticket_keys = nullptr;
    UniqueFd channel;     // the worker end of the master channel
    UniqueFd access_log;  // opened by the master (invalid: off)
    unsigned slot = 0;
    pid_t master = 0;
    Logger& log;
    const MetricsSegment* metrics = nullptr;
    std::size_t metrics_slot = 0;
};

// In the child after fork: keeps only the descriptors the worker needs, drops
// privileges, asks for SIGQUIT when the master dies, runs the Worker and leaves with
// _exit (never returning into the master's stack).
[[noreturn]] void run_worker_process(WorkerLaunch launch);

}  // namespace pywebd
