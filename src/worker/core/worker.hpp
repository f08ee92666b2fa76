#pragma once

#include <sys/epoll.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "admin/admin_handler.hpp"
#include "config.hpp"
#include "core/connection.hpp"
#include "http/date_cache.hpp"
#include "log.hpp"
#include "log/access_log.hpp"
#include "mime_types.hpp"
#include "net/timer_lists.hpp"
#include "static/error_pages.hpp"
#include "static/file_cache.hpp"
#include "static/site_directory.hpp"
#include "static/static_handler.hpp"
#include "tls_context.hpp"
#include "unique_fd.hpp"

namespace pywebd {

// A listening socket the worker accepts from, and what its connections get.
struct WorkerListener {
    int fd;  // inherited; the worker owns its copy
    ListenAddress role;
};

// What the master hands a worker at fork.
struct WorkerSetup {
    const Config& config;
    const MimeTypes& mime;
    std::vector<WorkerListener> listeners;
    UniqueFd channel;     // worker end of the master channel
    UniqueFd access_log;  // opened by the master (invalid: off)
    unsigned slot = 0;
    Logger& log;
    const TlsContext* tls = nullptr;          // the generation's, when a listener speaks TLS
    TicketKeys* ticket_keys = nullptr;        // what the TLS context seals tickets with; the master rotates it
    const MetricsSegment* metrics = nullptr;  // shared with every worker: this one writes slot metrics_slot
    std::size_t metrics_slot = 0;
};

// One worker process: an epoll loop over the shared listening sockets (level-triggered,
// EPOLLEXCLUSIVE), its client connections (edge-triggered), a signalfd and the master
// channel. Timeouts come from FIFO deadline lists.
class Worker {
public:
    explicit Worker(WorkerSetup setup);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Runs until told to stop; returns the process exit status.
    int run();

private:
    enum class Source : std::uint8_t { Connection, Listener, Signal, Channel };

    bool setup_loop();
    bool set_up_sites();
    UniqueFd open_root(const Config& site) const;
    ServeOptions serve_options(const Config& site, Confinement confinement) const;
    void dispatch(const epoll_event& event);
    int accept_from(std::size_t listener);  // returns how many connections it took
    bool register_listener(std::size_t index, bool on);
    void requeue_listener(std::size_t index);
    void add_connection(UniqueFd fd, const sockaddr_storage& address, std::size_t listener);
    void on_signal();
    void on_channel();
    void set_accepting(bool on);
    void pause_accepting();
    void update_accepting();
    void expire_timers();
    void after_drive(Connection& c);
    void run_ready(std::vector<std::pair<std::uint32_t, std::uint32_t>>& turn);
    void free_closed();
    void take_ticket_keys(std::span<const unsigned char> wire);
    void begin_drain();
    void close_idle_connections();
    void close_all();
    int timeout_ms() const;
    void tick();
    void sample_connections();
    void update_admin_listeners();
    bool is_admin(std::size_t listener) const { return listener_roles_[listener].admin; }
    std::size_t site_connections() const { return active_ - admin_open_; }

    const Config& config_;
    const MimeTypes& mime_;
    Logger& log_;
    unsigned slot_;
    // A listener is in our epoll exactly when `registered`: every change goes through
    // register_listener(), so a level-triggered listener is never left registered while
    // we will not accept from it (that would make epoll_wait return at once, forever).
    struct Listener {
        UniqueFd fd;
        bool registered = false;
    };
    std::vector<Listener> listeners_;
    std::vector<ListenAddress> listener_roles_;  // by listener index; kept after a drain closes the sockets
    const TlsContext* tls_;
    TicketKeys* ticket_keys_;
    TlsWorkerState tls_state_;
    UniqueFd channel_;
    UniqueFd epoll_;
    UniqueFd signals_;
    UniqueFd root_;

    DateCache date_;
    ErrorPages pages_;
    AccessLog access_log_;
    BufferPool pool_;
    TimerLists timers_;
    std::vector<char> drop_buffer_;
    Site site_;                                         // the top-level keys' site
    std::vector<std::unique_ptr<Site>> virtual_hosts_;  // `sites`, in order
    std::vector<UniqueFd> site_roots_;                  // their roots
    std::unique_ptr<Sites> sites_;                      // all of them, by name
    std::unique_ptr<StaticHandler> handler_;
    const MetricsSegment* metrics_;
    WorkerCounters unshared_counters_;  // when there is no slot for this worker
    WorkerCounters& counters_;
    std::unique_ptr<AdminHandler> admin_;
    std::unique_ptr<ConnectionServices> services_;

    std::vector<std::unique_ptr<Connection>> slots_;
    std::vector<std::uint32_t> free_slots_;
    std::vector<std::uint32_t> closed_;
    // Connections that stopped at their send budget with the socket still writable, as
    // (slot, slot-reuse tag): they get another turn after the next epoll_wait, which does
    // not sleep while any are waiting.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> ready_;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> ready_turn_;
    std::uint32_t next_reuse_tag_ = 1;
    std::uint32_t next_connection_id_ = 1;
    std::size_t active_ = 0;
    std::size_t admin_open_ = 0;  // of active_, on the admin listener

    bool accepting_ = false;
    bool rotate_accepts_ = false;        // more than one worker shares the listeners
    std::int64_t accept_resume_ms_ = 0;  // after EMFILE: retry accepting at this time
    std::int64_t admin_resume_ms_ = 0;   // the same for the admin listener
    bool draining_ = false;
    bool stop_now_ = false;
    std::int64_t drain_deadline_ms_ = 0;
    std::int64_t idle_close_ms_ = 0;
    std::int64_t last_tick_ms_ = 0;
    std::uint64_t connections_at_drain_ = 0;
};

}  // namespace pywebd
