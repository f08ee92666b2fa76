#include "master.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "channel.hpp"
#include "clock.hpp"
#include "core/worker_process.hpp"
#include "effective_config.hpp"
#include "exit_code.hpp"
#include "log_file.hpp"
#include "signals.hpp"
#include "tls_certificates.hpp"

namespace pywebd {
namespace {

constexpr std::uint64_t kSignalKey = 0;  // worker channels use their pid as key
constexpr std::int64_t kFastStopGraceMs = 1000;
// A draining worker keeps timeouts.shutdown itself and exits at it, logs flushed; the
// master's SIGKILL comes this much later, for a worker that is stuck.
constexpr std::int64_t kDrainKillGraceMs = 2000;

std::int64_t drain_kill_after_ms(const Config& config) { return config.timeouts.shutdown.count() + kDrainKillGraceMs; }

// Who the workers of `config` run as. The names were checked when the config loaded.
MetricsSegment create_metrics() {
    std::string error;
    auto segment = MetricsSegment::create(error);
    if (!segment) throw std::runtime_error(error);
    return std::move(*segment);
}

std::uint64_t unix_ms() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000'000;
}

Identity workers_identity(const Config& config) {
    std::string error;
    auto identity = resolve_identity(config.user, config.group, error);
    if (!identity) throw BindError(error);
    return *identity;
}

// Opened by the master, as the workers (see open_log_file), for each worker it forks.
UniqueFd open_access_log(const Generation& generation) {
    const Config& config = generation.config;
    if (config.access_log.empty()) return {};
    OpenedLog opened = open_log_file(config.access_log, &generation.workers);
    if (!opened.fd) throw BindError("cannot open access log " + opened.error);
    return std::move(opened.fd);
}

}  // namespace

void raise_fd_limit(const Config& config, Logger& log) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    // Idle connections hold one descriptor; one sending a file holds two, an HTTP/2 one up
    // to one per stream sending a file (a file the cache holds open is shared). Each site
    // (the top level and every virtual host) keeps its root and up to cache.entries open.
    const std::size_t sites = config.sites.size() + 1;
    const rlim_t needed = static_cast<rlim_t>(config.limits.max_connections) + 64 +
                          static_cast<rlim_t>(sites * (config.cache.entries + 1));
    if (limit.rlim_cur < needed)
        log.warn(
            "open-file limit {} is below what limits.max_connections={} and {} site(s) with cache.entries={} "
            "need ({}); connections beyond it wait in the accept queue, and files past it get 503",
            limit.rlim_cur, config.limits.max_connections, sites, config.cache.entries, needed);
}

Master::Master(CliOptions cli, Config config, std::vector<ListenSocket> listeners, bool socket_activated, Logger& log)
    : cli_(std::move(cli)),
      log_(log),
      pid_(::getpid()),
      socket_activated_(socket_activated),
      metrics_(create_metrics()) {
    signals_ = open_signalfd({SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGPIPE});
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kSignalKey;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, signals_.get(), &ev);
    supervisor_ = std::make_unique<Supervisor>(
        log_, epoll_.get(), [this](const Generation& g, unsigned slot) { return spawn_worker(g, slot); }, &metrics_);
    metrics_.master().started_unix_ms.set(unix_ms());

    initial_ = std::make_shared<Generation>();
    for (ListenSocket& socket : listeners) {
        auto shared = std::make_shared<ListenSocket>(std::move(socket));
        if (socket_activated_) inherited_.push_back(shared);
        initial_->listeners.push_back(std::move(shared));
    }
    add_admin_listener(*initial_, config);
    complete_generation(*initial_, std::move(config));
}

// The admin listener is the master's to bind, even under socket activation (systemd's
// socket unit is for the public addresses), unless systemd passed a socket on its port.
// Kept across reloads while its address is unchanged.
void Master::add_admin_listener(Generation& generation, const Config& config) {
    if (!config.admin) return;
    const ListenAddress& admin = *config.admin;
    for (const auto& socket : generation.listeners)
        if (socket->inherited && socket->address.port == admin.port) return;
    std::shared_ptr<ListenSocket> reused;
    if (const Generation* current = supervisor_->current())
        for (const auto& l : current->listeners)
            if (!l->inherited && l->address.admin && l->address.same_endpoint(admin)) reused = l;
    if (!reused) {
        reused = std::make_shared<ListenSocket>(bind_listener(admin, config.backlog));
        reused->address.admin = true;
        log_.notice("admin listening on {} (/metrics, /healthz)", reused->name);
    }
    generation.listeners.push_back(std::move(reused));
}

// What connections accepted on `socket` get, as `config` says: the listen entry for its
// address, or under socket activation the entry for its port.
ListenAddress Master::role_of(const ListenSocket& socket, const Config& config) const {
    ListenAddress role = socket.address;
    role.tls = role.redirect_to_https = role.h2c = false;
    role.h2 = true;
    const bool admin = config.admin && (socket.inherited ? config.admin->port == socket.address.port
                                                         : socket.address.admin);
    role.admin = admin;
    if (admin) return role;
    for (const ListenAddress& entry : config.effective_listen()) {
        const bool same = socket.inherited ? entry.port == socket.address.port : entry.same_endpoint(socket.address);
        if (!same) continue;
        role.tls = entry.tls;
        role.redirect_to_https = entry.redirect_to_https;
        role.https_port = entry.https_port;
        role.h2 = entry.h2;
        role.h2c = entry.h2c;
        break;
    }
    return role;
}

// Under socket activation, sockets are matched to listen entries by port alone. When
// the config asks for HTTPS (or a redirect), a mismatch would quietly serve plain HTTP
// or nothing: say so at every start and reload.
void Master::check_activated_roles(const Generation& generation, const Config& config) const {
    const auto listens = config.effective_listen();
    const bool special = std::any_of(listens.begin(), listens.end(),
                                     [](const ListenAddress& e) { return e.tls || e.redirect_to_https; });
    if (!special) return;
    for (const auto& socket : generation.listeners) {
        if (config.admin && socket->address.port == config.admin->port) continue;
        const bool matched = std::any_of(listens.begin(), listens.end(),
                                         [&](const ListenAddress& e) { return e.port == socket->address.port; });
        if (!matched)
            log_.warn("socket activation: {} (port {}) matches no listen entry by port; it serves plain HTTP",
                      socket->name, socket->address.port);
    }
    for (const ListenAddress& entry : listens) {
        const bool passed = std::any_of(generation.listeners.begin(), generation.listeners.end(),
                                        [&](const auto& socket) { return socket->address.port == entry.port; });
        if (!passed && (entry.tls || entry.redirect_to_https))
            log_.warn(
                "socket activation: listen entry {}{} has no socket from systemd (the socket unit must "
                "listen on port {})",
                entry.to_string(), entry.tls ? " (tls)" : " (redirect_to_https)", entry.port);
    }
}

// Everything a generation needs besides its listening sockets. Throws ConfigError (a
// certificate that does not load) or BindError (a log that does not open).
void Master::complete_generation(Generation& generation, Config config) {
    generation.number = next_generation_++;
    generation.workers = workers_identity(config);
    generation.mime = MimeTypes::load(config.mime_types, config.charset);
    for (const auto& socket : generation.listeners) generation.roles.push_back(role_of(*socket, config));
    if (socket_activated_) check_activated_roles(generation, config);
    if (std::any_of(generation.roles.begin(), generation.roles.end(), [](const ListenAddress& r) { return r.tls; })) {
        std::vector<std::string> errors, warnings;
        auto certificates = load_certificates(config.tls, std::time(nullptr), errors, warnings);
        if (!errors.empty()) throw ConfigError(std::move(errors));
        if (config.tls.session_tickets && !ticket_keys_) {
            ticket_keys_ = std::make_shared<TicketKeys>();
            next_ticket_rotation_ms_ = monotonic_ms() + config.tls.ticket_rotation.count();
        }
        try {
            generation.tls = std::make_shared<TlsContext>(config.tls, std::move(certificates),
                                                          config.tls.session_tickets ? ticket_keys_ : nullptr);
        } catch (const TlsError& error) {
            throw ConfigError({fmt::format("{}: {}: {}", config.origin(error.key()), error.key(), error.what())});
        }
    }
    generation.config = std::move(config);
    generation.access_log = open_access_log(generation);
}

int Master::run() {
    const Config& config = initial_->config;
    for (const auto& l : initial_->listeners)
        log_.notice("listening on {}{}", l->name, l->inherited ? " (socket activation)" : "");
    log_.notice("pywebd starting pid={} workers={} root={}", pid_, config.effective_workers(), config.root.string());
    metrics_.master().config_loaded_unix_ms.set(unix_ms());
    metrics_.master().config_load_us.set(static_cast<std::uint64_t>(config.load_us));
    supervisor_->start(initial_, monotonic_ms());
    initial_.reset();
    if (const auto period = notifier_.watchdog_period()) next_watchdog_ms_ = monotonic_ms();

    std::array<epoll_event, 32> events{};
    for (;;) {
        const std::int64_t before = monotonic_ms();
        const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), wait_timeout(before));
        if (n < 0 && errno != EINTR) {
            log_.crit("epoll_wait: {}", std::strerror(errno));
            return static_cast<int>(ExitCode::Failure);
        }
        const std::int64_t now = monotonic_ms();
        Pending pending;
        for (int i = 0; i < n; ++i) {
            const std::uint64_t key = events[static_cast<std::size_t>(i)].data.u64;
            if (key == kSignalKey)
                pending = read_signals();
            else
                on_worker_message(static_cast<pid_t>(key), now);
        }
        // Fixed priority: reap, stop, reload, reopen.
        if (pending.child_exited) reap(now);
        if (pending.stop != Stop::None) begin_stop(pending.stop, now);
        if (stopping_ == Stop::None) {
            if (pending.reload) reload(now);
            if (pending.reopen_logs) reopen_logs();
            finish_reload(now);
            check_startup();
            if (supervisor_->current_fatal()) {
                log_.crit("no worker can run; stopping");
                begin_stop(Stop::Fast, now);
            }
        }
        if (ticket_keys_ && now >= next_ticket_rotation_ms_) rotate_ticket_keys(now);
        supervisor_->run_due(now, stopping_ != Stop::None);
        publish_state();
        if (stopping_ != Stop::None && supervisor_->process_count() == 0) break;
        if (const auto period = notifier_.watchdog_period(); period && now >= next_watchdog_ms_) {
            notifier_.watchdog();
            next_watchdog_ms_ = now + period->count();
        }
    }
    log_.notice("pywebd stopped");
    return supervisor_->current_fatal() ? static_cast<int>(ExitCode::Failure) : 0;
}

// What /healthz and the master's series say, refreshed after every wake-up.
void Master::publish_state() {
    MasterCounters& m = metrics_.master();
    const Generation* current = supervisor_->current();
    const HealthState health = stopping_ != Stop::None ? HealthState::Stopping
                               : announced_ready_      ? HealthState::Serving
                                                       : HealthState::Starting;
    m.health.set(static_cast<std::uint64_t>(health));
    m.generation.set(current ? current->number : 0);
    m.workers_configured.set(current ? current->config.effective_workers() : 0);
    m.workers_ready.set(supervisor_->current_ready_count());
}

int Master::wait_timeout(std::int64_t now) const {
    std::int64_t wait = -1;
    const auto until = [&](std::int64_t deadline) {
        const std::int64_t left = std::max<std::int64_t>(deadline - now, 0);
        wait = wait < 0 ? left : std::min(wait, left);
    };
    if (const auto next = supervisor_->next_deadline()) until(*next);
    if (notifier_.watchdog_period()) until(next_watchdog_ms_);
    if (ticket_keys_) until(next_ticket_rotation_ms_);
    return static_cast<int>(std::min<std::int64_t>(wait, INT_MAX));
}

// The new key seals from now on; every worker gets the pair (workers forked later
// inherit it). A worker that has not heard yet seals with the key that just became the
// previous one, which every worker still opens.
void Master::rotate_ticket_keys(std::int64_t now) {
    ticket_keys_->rotate();
    const Generation* current = supervisor_->current();
    const auto period = current ? current->config.tls.ticket_rotation : TlsSettings{}.ticket_rotation;
    next_ticket_rotation_ms_ = now + period.count();
    auto wire = ticket_keys_->to_wire();
    for (pid_t pid : supervisor_->pids())
        if (const WorkerProcess* process = supervisor_->find(pid))
            send_message(process->channel.get(), ChannelMessage::TicketKeys, -1, wire);
    OPENSSL_cleanse(wire.data(), wire.size());
    log_.info("session ticket keys rotated; next in {}s", period.count() / 1000);
}

Master::Pending Master::read_signals() {
    Pending pending;
    signalfd_siginfo info{};
    while (::read(signals_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        switch (info.ssi_signo) {
        case SIGCHLD: pending.child_exited = true; break;
        case SIGHUP: pending.reload = true; break;
        case SIGUSR1: pending.reopen_logs = true; break;
        case SIGTERM:
        case SIGQUIT:
            if (pending.stop == Stop::None) pending.stop = Stop::Graceful;
            break;
        case SIGINT: pending.stop = Stop::Fast; break;
        default: break;
        }
    }
    return pending;
}

void Master::reap(std::int64_t now) {
    for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        if (!supervisor_->on_exit(pid, status, now, stopping_ != Stop::None))
            log_.info("reaped unknown child pid={} {}", pid, describe_exit(status));
    }
}

void Master::on_worker_message(pid_t pid, std::int64_t now) {
    WorkerProcess* process = supervisor_->find(pid);
    if (process == nullptr) return;
    for (;;) {
        bool closed = false;
        auto message = receive_message(process->channel.get(), closed);
        if (!message) {
            // EOF: the worker is exiting; SIGCHLD follows. Stop polling its channel.
            if (closed) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, process->channel.get(), nullptr);
            return;
        }
        if (message->message == ChannelMessage::WorkerReady) supervisor_->on_ready(pid, now);
    }
}

void Master::check_startup() {
    if (announced_ready_ || !supervisor_->current_ready()) return;
    announced_ready_ = true;
    publish_state();  // before READY=1: whoever hears it may probe /healthz at once
    log_.notice("ready: {} workers accepting", supervisor_->current()->config.effective_workers());
    notifier_.ready(status_line());
}

void Master::begin_stop(Stop stop, std::int64_t now) {
    if (stop == stopping_ || (stopping_ == Stop::Fast && stop == Stop::Graceful)) return;
    stopping_ = stop;
    publish_state();
    const Generation* current = supervisor_->current();
    const std::int64_t grace =
        stop == Stop::Fast || current == nullptr ? kFastStopGraceMs : drain_kill_after_ms(current->config);
    log_.notice("{} stop: {} workers", stop == Stop::Fast ? "fast" : "graceful", supervisor_->process_count());
    notifier_.stopping(stop == Stop::Fast ? "stopping (fast)" : "stopping: draining connections");
    supervisor_->quit_all(stop == Stop::Fast ? SIGTERM : SIGQUIT, now, grace);
}

std::shared_ptr<Generation> Master::make_generation(Config config) {
    auto generation = std::make_shared<Generation>();
    if (socket_activated_) {
        generation->listeners = inherited_;  // systemd owns the addresses
    } else {
        const Generation* current = supervisor_->current();
        for (const ListenAddress& address : config.effective_listen()) {
            std::shared_ptr<ListenSocket> reused;
            if (current != nullptr)
                for (const auto& l : current->listeners)
                    if (!l->address.admin && l->address.same_endpoint(address)) reused = l;
            generation->listeners.push_back(
                reused ? reused : std::make_shared<ListenSocket>(bind_listener(address, config.backlog)));
        }
    }
    add_admin_listener(*generation, config);
    complete_generation(*generation, std::move(config));
    return generation;
}

void Master::reload(std::int64_t now) {
    if (supervisor_->pending() != nullptr) {
        reload_queued_ = true;  // one reload at a time; this one runs when the current finishes
        return;
    }
    notifier_.reloading("reloading configuration");
    log_.notice("reloading configuration");
    std::string failure;
    try {
        Config config = load_effective_config(cli_);
        for (const std::string& warning : config.warnings) log_.warn("{}", warning);
        const std::int64_t load_us = config.load_us;
        auto generation = make_generation(std::move(config));
        metrics_.master().config_loaded_unix_ms.set(unix_ms());
        metrics_.master().config_load_us.set(static_cast<std::uint64_t>(load_us));
        log_.set_level(generation->config.log_level);
        if (generation->config.error_log != (log_.path().empty() ? "stderr" : log_.path()))
            if (const auto error = log_.open(generation->config.error_log, &generation->workers))
                log_.error("{}", *error);
        supervisor_->stage(generation, now);
        return;
    } catch (const ConfigError& error) {
        for (const std::string& line : error.errors()) log_.error("reload failed: {}", line);
        failure = error.errors().front();
    } catch (const BindError& error) {
        log_.error("reload failed: {}", error.what());
        failure = error.what();
    } catch (const std::exception& error) {  // out of memory or descriptors, say: the old generation serves on
        log_.error("reload failed: {}", error.what());
        failure = error.what();
    }
    // A generation half started when something threw goes; the current one serves on.
    if (const Generation* half = supervisor_->pending())
        supervisor_->abandon(SIGQUIT, now, drain_kill_after_ms(half->config));
    last_reload_ = "failed: " + failure;
    metrics_.master().reloads_failed.add();
    notifier_.ready(status_line());
}

void Master::finish_reload(std::int64_t now) {
    if (supervisor_->pending() == nullptr) return;
    if (supervisor_->pending_failed()) {
        const std::int64_t grace = drain_kill_after_ms(supervisor_->pending()->config);
        supervisor_->abandon(SIGQUIT, now, grace);
        last_reload_ = "failed: new workers could not start";
        metrics_.master().reloads_failed.add();
        log_.error("reload failed: new workers could not start; the previous configuration serves on");
    } else if (supervisor_->pending_ready()) {
        const std::int64_t grace = drain_kill_after_ms(supervisor_->current()->config);
        supervisor_->promote(SIGQUIT, now, grace);
        last_reload_ = fmt::format("ok (generation {})", supervisor_->current()->number);
        metrics_.master().reloads_ok.add();
        log_.notice("reload complete: generation {} serving", supervisor_->current()->number);
    } else {
        return;
    }
    publish_state();
    notifier_.ready(status_line());
    if (reload_queued_) {
        reload_queued_ = false;
        reload(now);
    }
}

void Master::reopen_logs() {
    if (const auto error = log_.reopen()) log_.error("{}", *error);
    log_.notice("reopening log files");
    for (pid_t pid : supervisor_->pids())
        if (const WorkerProcess* process = supervisor_->find(pid)) send_logs(*process);
}

// Each worker gets freshly opened log files from the master (after a rotation, say),
// opened with the workers' own rights: see open_log_file.
void Master::send_logs(const WorkerProcess& process) const {
    try {
        UniqueFd access = open_access_log(*process.generation_data);
        if (access) send_message(process.channel.get(), ChannelMessage::AccessLog, access.get());
    } catch (const BindError& error) {
        log_.error("{}", error.what());
    }
    if (!log_.path().empty()) send_message(process.channel.get(), ChannelMessage::ErrorLog, log_.fd());
}

Spawned Master::spawn_worker(const Generation& generation, unsigned slot) {
    Channel channel = open_channel();
    if (channel.error != 0) {
        log_.error("cannot start worker slot={}: channel: {}", slot, std::strerror(channel.error));
        return {};
    }
    // Opened afresh for each worker: one respawned after a log rotation must write to
    // the new file, not to the one the generation opened before the rotation.
    UniqueFd access_log;
    try {
        access_log = open_access_log(generation);
    } catch (const BindError& error) {
        log_.error("{}; the worker keeps the file opened at reload", error.what());
        if (generation.access_log) access_log.reset(::fcntl(generation.access_log.get(), F_DUPFD_CLOEXEC, 3));
    }
    const std::size_t metrics_slot = metrics_.acquire();
    if (metrics_slot == MetricsSegment::kSlots)
        log_.warn("more workers alive than metrics slots ({}): their counts share one slot", MetricsSegment::kSlots);
    const pid_t pid = ::fork();
    if (pid < 0) {
        log_.error("fork: {}", std::strerror(errno));
        metrics_.release(metrics_slot);
        return {};
    }
    if (pid == 0)
        run_worker_process(WorkerLaunch{generation.config, generation.mime, generation.workers,
                                        generation.worker_listeners(), generation.tls.get(), ticket_keys_.get(),
                                        std::move(channel.worker_end), std::move(access_log), slot, pid_, log_,
                                        &metrics_, metrics_slot});
    return {pid, std::move(channel.master_end), metrics_slot};
}

std::string Master::status_line() const {
    const Generation* current = supervisor_->current();
    return fmt::format("generation {}, {} workers, last reload: {}", current ? current->number : 0,
                       current ? current->config.effective_workers() : 0, last_reload_);
}

}  // namespace pywebd
