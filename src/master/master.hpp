#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "config.hpp"
#include "generation.hpp"
#include "listeners.hpp"
#include "log.hpp"
#include "metrics_segment.hpp"
#include "notifier.hpp"
#include "supervisor.hpp"
#include "unique_fd.hpp"
#include "upgrade_state.hpp"

namespace pywebd {

// The master process: owns the configuration, the listening sockets and the worker
// table; never accepts. Its loop only reacts to signals (through a signalfd), to
// workers' messages and to its own deadlines.
class Master {
public:
    // `upgrade`: this image was executed in place of a running master, which passed
    // `listeners`, its workers and its metrics (see UpgradeState).
    Master(CliOptions cli, Config config, std::vector<ListenSocket> listeners, bool socket_activated, Logger& log,
           std::optional<UpgradeState> upgrade = std::nullopt);
    int run();

private:
    enum class Stop : std::uint8_t { None, Graceful, Fast };
    // What the signals read in one wake-up ask for; handled in a fixed order.
    struct Pending {
        bool child_exited = false;
        bool reload = false;
        bool reopen_logs = false;
        bool upgrade = false;  // SIGUSR2
        Stop stop = Stop::None;
    };

    Pending read_signals();
    void reap(std::int64_t now);
    void on_worker_message(pid_t pid, std::int64_t now);
    void begin_stop(Stop stop, std::int64_t now);
    void reload(std::int64_t now);
    void finish_reload(std::int64_t now);
    void reopen_logs();
    void send_logs(const WorkerProcess& process) const;
    void check_startup();
    std::shared_ptr<Generation> make_generation(Config config);
    void complete_generation(Generation& generation, Config config);
    void add_admin_listener(Generation& generation, const Config& config);
    std::shared_ptr<ListenSocket> reusable_socket(const ListenAddress& address,
                                                  const std::vector<std::shared_ptr<ListenSocket>>& taken) const;
    void adopt_workers(const UpgradeState& upgrade, const Config& config);
    bool upgrade(std::int64_t now, bool then_reload);
    void upgrade_failed(const std::string& reason, bool announce);
    void reload_or_upgrade(std::int64_t now);
    void retry_generation_if_due(std::int64_t now);
    void schedule_retry(std::int64_t now);
    std::optional<std::string> run_trial(const UpgradeState& state);
    UpgradeState upgrade_state() const;
    void reload_failed(const std::string& reason);
    void finish_upgrade(std::int64_t now);
    void abandon_upgrade(std::int64_t now, const std::string& why);
    void run_queued_reload(std::int64_t now);
    void publish_state();
    ListenAddress role_of(const ListenSocket& socket, const Config& config) const;
    void check_activated_roles(const Generation& generation, const Config& config) const;
    Spawned spawn_worker(const Generation& generation, unsigned slot);
    std::string status_line() const;
    int wait_timeout(std::int64_t now) const;
    void rotate_ticket_keys(std::int64_t now);

    CliOptions cli_;
    Logger& log_;
    Notifier notifier_;
    pid_t pid_;
    bool socket_activated_;
    UniqueFd epoll_;
    UniqueFd signals_;
    MetricsSegment metrics_;  // mapped before the first fork: every worker shares it
    std::unique_ptr<Supervisor> supervisor_;
    std::shared_ptr<Generation> initial_;
    std::vector<std::shared_ptr<ListenSocket>> inherited_;  // socket activation: used by every generation
    std::vector<std::shared_ptr<ListenSocket>> passed_;     // an upgrade: the sockets the image before had
    ExecutableFile executable_;                             // what an upgrade executes, and how a changed one is seen
    bool adopting_ = false;                  // upgraded: the image before's workers serve until ours are ready
    std::int64_t adoption_deadline_ms_ = 0;  // by then ours are ready, or the upgrade is given up
    bool upgraded_ = false;                  // this image came from an upgrade not yet finished
    std::string last_upgrade_;               // empty until one is tried
    // After an upgrade was given up: when a generation is tried again, and the back-off.
    std::int64_t retry_generation_ms_ = 0;
    std::int64_t retry_delay_ms_ = 0;
    std::int64_t drain_grace_ms_ = 0;  // until SIGKILL for draining workers: the serving config's
    unsigned next_generation_ = 1;
    bool announced_ready_ = false;
    bool reload_queued_ = false;
    Stop stopping_ = Stop::None;
    std::string last_reload_ = "none";
    std::int64_t next_watchdog_ms_ = 0;
    // Session ticket keys, made once and kept across reloads; rotated on schedule and
    // handed to every worker.
    std::shared_ptr<TicketKeys> ticket_keys_;
    std::int64_t next_ticket_rotation_ms_ = 0;
};

// Raises RLIMIT_NOFILE to its hard limit and warns if that cannot cover the configured
// connections (each may hold a socket and a file).
void raise_fd_limit(const Config& config, Logger& log);

}  // namespace pywebd
