#pragma once

#include <memory>
#include <vector>

#include "config.hpp"
#include "core/worker.hpp"
#include "identity.hpp"
#include "listeners.hpp"
#include "mime_types.hpp"
#include "tls_context.hpp"
#include "unique_fd.hpp"

namespace pywebd {

// Everything one generation of workers is forked with. A reload builds a new one; the
// old one lives until its last worker has exited, and with it go the listening sockets
// only it used.
struct Generation {
    unsigned number = 0;
    Config config;
    Identity workers;  // who the workers run as; log files are opened as them
    MimeTypes mime;
    std::vector<std::shared_ptr<ListenSocket>> listeners;
    std::vector<ListenAddress> roles;       // by listener: what its connections get (TLS, a redirect)
    std::shared_ptr<const TlsContext> tls;  // when a listener speaks TLS
    // Opened at reload to prove the path works; each worker gets its own, opened by the
    // master at fork (as the workers), so a respawn after a rotation writes the new file.
    UniqueFd access_log;

    std::vector<int> listener_fds() const {
        std::vector<int> fds;
        for (const auto& l : listeners) fds.push_back(l->fd.get());
        return fds;
    }
    std::vector<WorkerListener> worker_listeners() const {
        std::vector<WorkerListener> out;
        for (std::size_t i = 0; i < listeners.size(); ++i) out.push_back({listeners[i]->fd.get(), roles[i]});
        return out;
    }
};

}  // namespace pywebd
