#pragma once

// What every protocol session (HTTP/1 today, HTTP/2 beside it) works with: the
// worker's services and, for each call, its connection's transport and timer.

#include <cstdint>
#include <span>

#include "admin/admin_handler.hpp"
#include "http/date_cache.hpp"
#include "listen_address.hpp"
#include "log.hpp"
#include "log/access_log.hpp"
#include "metric_counters.hpp"
#include "net/peer_address.hpp"
#include "net/timer_lists.hpp"
#include "net/transport.hpp"
#include "static/site_directory.hpp"
#include "static/static_handler.hpp"

namespace pywebd {

// One per worker; `now_ms` and `draining` are updated by the worker's loop.
struct SessionServices {
    TimerLists& timers;
    StaticHandler& handler;
    Sites& sites;  // what requests are answered from, by their authority
    AccessLog& access_log;
    const DateCache& date;
    Logger& log;
    WorkerCounters& counters;     // this worker's slot of the shared metrics
    std::span<char> drop_buffer;  // for bytes read only to be dropped
    bool log_tls = false;         // the access log adds the TLS protocol and cipher
    std::int64_t now_ms = 0;
    bool draining = false;
    bool linger = true;                   // timeouts.linger > 0
    const AdminHandler* admin = nullptr;  // what the admin listener's requests get
};

// What a session works with for one call: its connection's transport and timer, the
// worker's services, who the connection is (for logs) and where it arrived (a
// listener that redirects to HTTPS, say).
struct SessionContext {
    Transport& transport;
    TimerNode& timer;
    const PeerAddress& peer;
    std::uint32_t id;
    const ListenAddress& listener;
    SessionServices& services;

    void arm(TimerKind kind) { services.timers.arm(timer, kind, services.now_ms); }
};

}  // namespace pywebd
