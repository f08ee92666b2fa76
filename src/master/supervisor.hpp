#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "generation.hpp"
#include "log.hpp"
#include "metrics_segment.hpp"
#include "unique_fd.hpp"

namespace pywebd {

// Back-off before respawning a slot that cannot keep a worker: the first failed start
// is repaired at once, then each one in a row waits 100 ms, 200 ms, … up to 30 s.
struct Backoff {
    static constexpr std::int64_t kFirstDelayMs = 100;
    static constexpr std::int64_t kMaxDelayMs = 30000;
    unsigned failed_starts = 0;  // in a row

    // A worker of this slot failed; returns the wait before respawning.
    std::int64_t on_failed_start();
    void reset() { failed_starts = 0; }
};

// How a slot is refilled after an unplanned exit. A worker that dies before it is
// ready failed to start: full back-off. One that served for kSettleMs is not crash
// looping (the OOM killer, an operator's kill, a crash on some request): it is replaced
// at once and the count starts over. One that dies sooner after becoming ready (a crash
// on its first requests, say) counts as a failed start, but waits at most
// kEarlyDeathMaxDelayMs, and not at all when no other worker of its generation is left:
// the back-off never leaves a serving generation without workers.
struct RespawnPolicy {
    static constexpr std::int64_t kSettleMs = 1000;
    static constexpr std::int64_t kEarlyDeathMaxDelayMs = 1000;
};

struct WorkerProcess {
    pid_t pid = 0;
    unsigned generation = 0;
    unsigned slot = 0;
    UniqueFd channel;  // master end
    bool ready = false;
    std::int64_t ready_ms = 0;                          // when it reported ready
    bool quitting = false;                              // asked to stop: its exit is planned
    std::int64_t kill_at_ms = 0;                        // when quitting: SIGKILL if still alive by then
    std::shared_ptr<const Generation> generation_data;  // keeps its sockets open while it lives
    std::size_t metrics_slot = MetricsSegment::kSlots;  // its counters in the shared segment
    bool adopted = false;                               // forked by the image before an in-place upgrade
};

// Forks a worker for (generation, slot); returns its pid (-1 if fork failed) and the
// master end of its channel.
struct Spawned {
    pid_t pid = -1;
    UniqueFd channel;
    std::size_t metrics_slot = MetricsSegment::kSlots;
};
using Spawner = std::function<Spawned(const Generation&, unsigned slot)>;

// The worker table. The current generation's slots are kept filled (respawned with
// back-off); during a reload a pending generation starts beside it and is promoted
// once every one of its workers is ready, or abandoned if one cannot start. Old
// generations drain and are killed at their deadline. Policy about signals stays in
// the master, which calls this.
class Supervisor {
public:
    // `metrics` (may be null): a dead worker's slot is released there, and each restart
    // counted by its cause.
    Supervisor(Logger& log, int epoll_fd, Spawner spawner, MetricsSegment* metrics = nullptr);

    void start(std::shared_ptr<const Generation> generation, std::int64_t now_ms);
    void stage(std::shared_ptr<const Generation> generation, std::int64_t now_ms);
    // The pending generation becomes current; the previous current one is sent `signal`.
    void promote(int signal, std::int64_t now_ms, std::int64_t grace_ms);
    // The pending generation is sent `signal` and forgotten; the current one serves on.
    void abandon(int signal, std::int64_t now_ms, std::int64_t grace_ms);

    const Generation* current() const { return current_.generation.get(); }
    const Generation* pending() const { return pending_.generation.get(); }
    bool pending_ready() const { return pending_.generation && all_ready(pending_); }
    bool pending_failed() const { return pending_.failed; }
    bool current_ready() const { return all_ready(current_); }
    bool current_fatal() const;               // every slot of the current generation failed fatally
    std::size_t current_ready_count() const;  // its workers ready and not quitting

    // After an in-place upgrade: a worker of the image before, still serving. It is
    // tracked (reaped, its slot released) but never respawned; quit_adopted() drains
    // them once the new generation serves.
    void adopt(std::unique_ptr<WorkerProcess> process);
    std::size_t adopted_ready_count() const;  // adopted, ready and not asked to quit
    void quit_adopted(int signal, std::int64_t now_ms, std::int64_t grace_ms);
    // The current generation is given up (an upgrade whose workers cannot start): its
    // workers are sent `signal` and nothing is respawned; there is no current generation
    // until the next one is promoted.
    void drop_current(int signal, std::int64_t now_ms, std::int64_t grace_ms);
    const std::vector<std::unique_ptr<WorkerProcess>>& processes() const { return processes_; }

    // A child exited (from waitpid). Returns false if it was not one of ours.
    bool on_exit(pid_t pid, int status, std::int64_t now_ms, bool stopping);
    void on_ready(pid_t pid, std::int64_t now_ms);
    WorkerProcess* find(pid_t pid);

    // Sends `signal` to every worker and gives them until now + grace_ms.
    void quit_all(int signal, std::int64_t now_ms, std::int64_t grace_ms);
    // Respawns that are due; SIGKILL for quitting workers past their deadline.
    void run_due(std::int64_t now_ms, bool stopping);
    std::optional<std::int64_t> next_deadline() const;

    std::size_t process_count() const { return processes_.size(); }
    std::vector<pid_t> pids() const;

private:
    struct Slot {
        Backoff backoff;
        std::int64_t respawn_at_ms = -1;  // -1: nothing scheduled
        bool fatal = false;
    };
    struct Tracked {
        std::shared_ptr<const Generation> generation;
        std::vector<Slot> slots;
        bool failed = false;
    };

    void fill(Tracked& tracked, std::int64_t now_ms);
    std::int64_t respawn_delay(const WorkerProcess& dead, Slot& slot, std::int64_t now_ms) const;
    void spawn(Tracked& tracked, unsigned slot, std::int64_t now_ms);
    void quit_generation(unsigned number, int signal, std::int64_t now_ms, std::int64_t grace_ms);
    bool all_ready(const Tracked& tracked) const;
    Tracked* tracked_for(unsigned generation);

    void count_restart(const WorkerProcess& dead, int status);

    Logger& log_;
    int epoll_fd_;
    Spawner spawner_;
    MetricsSegment* metrics_;
    Tracked current_;
    Tracked pending_;
    std::vector<std::unique_ptr<WorkerProcess>> processes_;
};

// "exit status 1" or "signal 9 (Killed)"
std::string describe_exit(int status);

}  // namespace pywebd
