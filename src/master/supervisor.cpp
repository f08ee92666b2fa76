#include "supervisor.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "exit_code.hpp"

namespace pywebd {

std::int64_t Backoff::on_failed_start() {
    ++failed_starts;
    if (failed_starts <= 1) return 0;
    const unsigned doublings = std::min(failed_starts - 2, 20u);
    return std::min(kFirstDelayMs << doublings, kMaxDelayMs);
}

std::string describe_exit(int status) {
    if (WIFSIGNALED(status)) return fmt::format("signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
    return fmt::format("exit status {}", WEXITSTATUS(status));
}

Supervisor::Supervisor(Logger& log, int epoll_fd, Spawner spawner, MetricsSegment* metrics)
    : log_(log), epoll_fd_(epoll_fd), spawner_(std::move(spawner)), metrics_(metrics) {}

void Supervisor::start(std::shared_ptr<const Generation> generation, std::int64_t now_ms) {
    current_ = Tracked{std::move(generation), {}, false};
    fill(current_, now_ms);
}

void Supervisor::stage(std::shared_ptr<const Generation> generation, std::int64_t now_ms) {
    pending_ = Tracked{std::move(generation), {}, false};
    fill(pending_, now_ms);
}

void Supervisor::fill(Tracked& tracked, std::int64_t now_ms) {
    tracked.slots.assign(tracked.generation->config.effective_workers(), Slot{});
    for (unsigned slot = 0; slot < tracked.slots.size() && !tracked.failed; ++slot) spawn(tracked, slot, now_ms);
}

void Supervisor::promote(int signal, std::int64_t now_ms, std::int64_t grace_ms) {
    const unsigned old = current_.generation ? current_.generation->number : 0;
    current_ = std::move(pending_);
    pending_ = Tracked{};
    if (old != 0) quit_generation(old, signal, now_ms, grace_ms);
}

void Supervisor::abandon(int signal, std::int64_t now_ms, std::int64_t grace_ms) {
    if (!pending_.generation) return;
    const unsigned number = pending_.generation->number;
    pending_ = Tracked{};
    quit_generation(number, signal, now_ms, grace_ms);
}

void Supervisor::spawn(Tracked& tracked, unsigned slot, std::int64_t now_ms) {
    tracked.slots[slot].respawn_at_ms = -1;
    Spawned spawned = spawner_(*tracked.generation, slot);
    if (spawned.pid < 0) {
        // fork or its channel failed (EAGAIN, ENOMEM, EMFILE). A reload that cannot start
        // its workers has failed, and the current generation serves on; a slot of the
        // current generation is tried again later instead of being given up.
        if (&tracked == &pending_) {
            pending_.failed = true;
            return;
        }
        tracked.slots[slot].respawn_at_ms =
            now_ms + tracked.slots[slot].backoff.on_failed_start() + Backoff::kFirstDelayMs;
        return;
    }
    auto process = std::make_unique<WorkerProcess>();
    process->pid = spawned.pid;
    process->generation = tracked.generation->number;
    process->slot = slot;
    process->channel = std::move(spawned.channel);
    process->generation_data = tracked.generation;
    process->metrics_slot = spawned.metrics_slot;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<std::uint64_t>(spawned.pid);
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, process->channel.get(), &ev) != 0)
        log_.error("epoll_ctl worker channel: {}", std::strerror(errno));
    log_.info("worker started slot={} pid={} generation={}", slot, spawned.pid, process->generation);
    processes_.push_back(std::move(process));
}

Supervisor::Tracked* Supervisor::tracked_for(unsigned generation) {
    if (current_.generation && current_.generation->number == generation) return &current_;
    if (pending_.generation && pending_.generation->number == generation) return &pending_;
    return nullptr;
}

WorkerProcess* Supervisor::find(pid_t pid) {
    for (auto& p : processes_)
        if (p->pid == pid) return p.get();
    return nullptr;
}

void Supervisor::on_ready(pid_t pid, std::int64_t now_ms) {
    WorkerProcess* p = find(pid);
    if (p == nullptr || p->ready) return;
    p->ready = true;
    p->ready_ms = now_ms;
}

bool Supervisor::all_ready(const Tracked& tracked) const {
    if (!tracked.generation) return false;
    for (unsigned slot = 0; slot < tracked.slots.size(); ++slot) {
        const bool ready = std::any_of(processes_.begin(), processes_.end(), [&](const auto& p) {
            return p->generation == tracked.generation->number && p->slot == slot && p->ready && !p->quitting;
        });
        if (!ready) return false;
    }
    return true;
}

std::size_t Supervisor::current_ready_count() const {
    if (!current_.generation) return 0;
    return static_cast<std::size_t>(std::count_if(processes_.begin(), processes_.end(), [&](const auto& p) {
        return p->generation == current_.generation->number && p->ready && !p->quitting;
    }));
}

void Supervisor::adopt(std::unique_ptr<WorkerProcess> process) {
    process->adopted = true;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<std::uint64_t>(process->pid);
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, process->channel.get(), &ev) != 0)
        log_.error("epoll_ctl adopted worker channel: {}", std::strerror(errno));
    log_.info("worker adopted slot={} pid={} generation={}", process->slot, process->pid, process->generation);
    processes_.push_back(std::move(process));
}

std::size_t Supervisor::adopted_ready_count() const {
    return static_cast<std::size_t>(std::count_if(
        processes_.begin(), processes_.end(), [](const auto& p) { return p->adopted && p->ready && !p->quitting; }));
}

void Supervisor::quit_adopted(int signal, std::int64_t now_ms, std::int64_t grace_ms) {
    for (auto& p : processes_) {
        if (!p->adopted || p->quitting) continue;
        p->quitting = true;
        p->kill_at_ms = now_ms + grace_ms;
        ::kill(p->pid, signal);
    }
}

void Supervisor::drop_current(int signal, std::int64_t now_ms, std::int64_t grace_ms) {
    if (!current_.generation) return;
    const unsigned number = current_.generation->number;
    current_ = Tracked{};
    quit_generation(number, signal, now_ms, grace_ms);
}

bool Supervisor::current_fatal() const {
    return !current_.slots.empty() &&
           std::all_of(current_.slots.begin(), current_.slots.end(), [](const Slot& s) { return s.fatal; });
}

bool Supervisor::on_exit(pid_t pid, int status, std::int64_t now_ms, bool stopping) {
    const auto it = std::find_if(processes_.begin(), processes_.end(), [&](const auto& p) { return p->pid == pid; });
    if (it == processes_.end()) return false;
    const std::unique_ptr<WorkerProcess> process = std::move(*it);
    processes_.erase(it);
    if (metrics_ != nullptr) metrics_->release(process->metrics_slot);
    Tracked* tracked = tracked_for(process->generation);
    if (process->quitting || stopping || tracked == nullptr) {
        log_.info("worker exited slot={} pid={} generation={} {}", process->slot, pid, process->generation,
                  describe_exit(status));
        return true;
    }
    Slot& slot = tracked->slots[process->slot];
    if (WIFEXITED(status) && WEXITSTATUS(status) == kWorkerFatalStatus) {
        log_.crit("worker cannot run, not restarting slot={} pid={} generation={}", process->slot, pid,
                  process->generation);
        slot.fatal = true;
        if (tracked == &pending_) pending_.failed = true;
        return true;
    }
    if (tracked == &pending_ && !process->ready) {
        // A new generation that cannot even start is a failed reload, not a crash loop.
        log_.error("new worker died before accepting slot={} pid={} {}", process->slot, pid, describe_exit(status));
        pending_.failed = true;
        return true;
    }
    const std::int64_t delay = respawn_delay(*process, slot, now_ms);
    slot.respawn_at_ms = now_ms + delay;
    count_restart(*process, status);
    log_.error("worker died unexpectedly slot={} pid={} generation={} {}; restarting in {} ms", process->slot, pid,
               process->generation, describe_exit(status), delay);
    if (delay == 0) spawn(*tracked, process->slot, now_ms);
    return true;
}

void Supervisor::count_restart(const WorkerProcess& dead, int status) {
    if (metrics_ == nullptr) return;
    RestartCause cause = RestartCause::Exited;
    if (!dead.ready)
        cause = RestartCause::FailedStart;
    else if (WIFSIGNALED(status))
        cause = WTERMSIG(status) == SIGKILL ? RestartCause::Killed : RestartCause::Crashed;
    metrics_->master().restarts[static_cast<std::size_t>(cause)].add();
}

// See RespawnPolicy. `dead` has already left processes_.
std::int64_t Supervisor::respawn_delay(const WorkerProcess& dead, Slot& slot, std::int64_t now_ms) const {
    if (!dead.ready) return slot.backoff.on_failed_start();
    if (now_ms - dead.ready_ms >= RespawnPolicy::kSettleMs) {
        slot.backoff.reset();
        return 0;
    }
    const std::int64_t delay = std::min(slot.backoff.on_failed_start(), RespawnPolicy::kEarlyDeathMaxDelayMs);
    const bool others_live = std::any_of(processes_.begin(), processes_.end(), [&](const auto& p) {
        return p->generation == dead.generation && !p->quitting;
    });
    return others_live ? delay : 0;
}

void Supervisor::quit_generation(unsigned number, int signal, std::int64_t now_ms, std::int64_t grace_ms) {
    for (auto& p : processes_) {
        if (p->generation != number || p->quitting) continue;
        p->quitting = true;
        p->kill_at_ms = now_ms + grace_ms;
        ::kill(p->pid, signal);
    }
}

void Supervisor::quit_all(int signal, std::int64_t now_ms, std::int64_t grace_ms) {
    for (auto& p : processes_) {
        // A second, faster stop request shortens the deadline and re-signals.
        if (p->quitting && p->kill_at_ms <= now_ms + grace_ms) continue;
        p->quitting = true;
        p->kill_at_ms = now_ms + grace_ms;
        ::kill(p->pid, signal);
    }
    for (Tracked* t : {&current_, &pending_})
        for (Slot& slot : t->slots) slot.respawn_at_ms = -1;
}

void Supervisor::run_due(std::int64_t now_ms, bool stopping) {
    for (auto& p : processes_) {
        if (p->quitting && p->kill_at_ms <= now_ms) {
            log_.warn("worker did not finish in time, killing slot={} pid={} generation={}", p->slot, p->pid,
                      p->generation);
            ::kill(p->pid, SIGKILL);
            p->kill_at_ms = now_ms + 60'000;  // one SIGKILL is enough; reaping follows
        }
    }
    if (stopping) return;
    for (Tracked* t : {&current_, &pending_}) {
        if (!t->generation) continue;
        for (unsigned slot = 0; slot < t->slots.size(); ++slot)
            if (t->slots[slot].respawn_at_ms >= 0 && t->slots[slot].respawn_at_ms <= now_ms) spawn(*t, slot, now_ms);
    }
}

std::optional<std::int64_t> Supervisor::next_deadline() const {
    std::optional<std::int64_t> next;
    auto consider = [&](std::int64_t t) {
        if (!next || t < *next) next = t;
    };
    for (const auto& p : processes_)
        if (p->quitting) consider(p->kill_at_ms);
    for (const Tracked* t : {&current_, &pending_})
        for (const Slot& slot : t->slots)
            if (slot.respawn_at_ms >= 0) consider(slot.respawn_at_ms);
    return next;
}

std::vector<pid_t> Supervisor::pids() const {
    std::vector<pid_t> out;
    for (const auto& p : processes_) out.push_back(p->pid);
    return out;
}

}  // namespace pywebd
