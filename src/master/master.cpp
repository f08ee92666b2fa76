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

#include "capabilities.hpp"
#include "channel.hpp"
#include "clock.hpp"
#include "core/worker_process.hpp"
#include "effective_config.hpp"
#include "exit_code.hpp"
#include "log_file.hpp"
#include "signals.hpp"
#include "tls_certificates.hpp"
#include "version.hpp"

namespace pywebd {
namespace {

constexpr std::uint64_t kSignalKey = 0;  // worker channels use their pid as key
constexpr std::int64_t kFastStopGraceMs = 1000;
// A draining worker keeps timeouts.shutdown itself and exits at it, logs flushed; the
// master's SIGKILL comes this much later, for a worker that is stuck.
constexpr std::int64_t kDrainKillGraceMs = 2000;

std::int64_t drain_kill_after_ms(const Config& config) { return config.timeouts.shutdown.count() + kDrainKillGraceMs; }

// A fresh segment, or after an in-place upgrade the one the image before kept.
MetricsSegment open_metrics(const std::optional<UpgradeState>& upgrade) {
    std::string error;
    auto segment =
        upgrade ? MetricsSegment::adopt(UniqueFd(upgrade->metrics_fd), error) : MetricsSegment::create(error);
    if (!segment) throw std::runtime_error(error);
    return std::move(*segment);
}

void set_close_on_exec(int fd, bool on) {
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC);
}

// How long the new binary's trial start may take (the master waits for it), and how
// long its first generation may take to be ready before the upgrade is given up.
constexpr std::int64_t kUpgradeTrialMs = 15'000;
constexpr std::int64_t kAdoptionMs = 30'000;
// After an upgrade was given up: a generation is tried again after 10 s, then 20 s, …,
// at most every 5 minutes, until one serves.
constexpr std::int64_t kRetryFirstMs = 10'000;
constexpr std::int64_t kRetryMaxMs = 300'000;

std::uint64_t unix_ms() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000'000;
}

// Who the workers of `config` run as. The names were checked when the config loaded.
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

Master::Master(CliOptions cli, Config config, std::vector<ListenSocket> listeners, bool socket_activated, Logger& log,
               std::optional<UpgradeState> upgrade)
    : cli_(std::move(cli)),
      log_(log),
      pid_(::getpid()),
      socket_activated_(socket_activated),
      metrics_(open_metrics(upgrade)),
      executable_(ExecutableFile::of_this_process()) {
    signals_ = open_signalfd({SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE});
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kSignalKey;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, signals_.get(), &ev);
    supervisor_ = std::make_unique<Supervisor>(
        log_, epoll_.get(), [this](const Generation& g, unsigned slot) { return spawn_worker(g, slot); }, &metrics_);
    if (upgrade) {
        // The sockets are reused where the configuration still lists their address
        // (under socket activation: all of them), as a reload would.
        next_generation_ = upgrade->next_generation;
        for (ListenSocket& socket : listeners) {
            auto shared = std::make_shared<ListenSocket>(std::move(socket));
            if (socket_activated_ && shared->inherited) inherited_.push_back(shared);
            passed_.push_back(std::move(shared));
        }
        upgraded_ = true;
        drain_grace_ms_ = drain_kill_after_ms(config);
        adopt_workers(*upgrade, config);
        // Kept until our generation serves: the sockets the state names stay valid, and
        // a reload after an abandoned upgrade can still reuse them.
        initial_ = make_generation(std::move(config));
        return;
    }
    metrics_.master().started_unix_ms.set(unix_ms());
    drain_grace_ms_ = drain_kill_after_ms(config);
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
        if (socket->inherited && socket->address.same_endpoint(admin)) return;
    std::shared_ptr<ListenSocket> reused = reusable_socket(admin, generation.listeners);
    if (!reused) {
        reused = std::make_shared<ListenSocket>(bind_listener(admin, config.backlog));
        reused->address.admin = true;
        log_.notice("admin listening on {} (/metrics, /healthz)", reused->name);
    }
    generation.listeners.push_back(std::move(reused));
}

// A bound socket of the serving generation (or passed by the image before an upgrade)
// for `address`, of the same kind (admin or not).
std::shared_ptr<ListenSocket> Master::reusable_socket(const ListenAddress& address,
                                                      const std::vector<std::shared_ptr<ListenSocket>>& taken) const {
    std::vector<std::shared_ptr<ListenSocket>> candidates = passed_;
    if (const Generation* current = supervisor_->current())
        candidates.insert(candidates.end(), current->listeners.begin(), current->listeners.end());
    for (const auto& l : candidates) {
        if (std::find(taken.begin(), taken.end(), l) != taken.end()) continue;  // one socket per entry
        // Port 0 in the configuration matches the port the kernel chose (a passed socket
        // knows its own port; one bound here keeps the 0 it was asked for).
        ListenAddress wanted = address;
        if (wanted.port == 0) wanted.port = l->address.port;
        if (!l->inherited && l->address.admin == address.admin && l->address.same_endpoint(wanted)) return l;
    }
    return nullptr;
}

// What connections accepted on `socket` get, as `config` says: the listen entry for its
// address, or under socket activation the entry for its port.
ListenAddress Master::role_of(const ListenSocket& socket, const Config& config) const {
    ListenAddress role = socket.address;
    role.tls = role.redirect_to_https = role.h2c = false;
    role.h2 = true;
    // Under socket activation too, only a socket on exactly the admin address (a
    // wildcard one on its port would publish the counters on every interface).
    const bool admin =
        config.admin && (socket.inherited ? socket.address.same_endpoint(*config.admin) : socket.address.admin);
    role.admin = admin;
    if (admin) return role;
    for (const ListenAddress& entry : config.effective_listen()) {
        ListenAddress wanted = entry;  // a configured port 0 is the one the kernel chose
        if (wanted.port == 0 && !socket.inherited) wanted.port = socket.address.port;
        const bool same = socket.inherited ? entry.port == socket.address.port : wanted.same_endpoint(socket.address);
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
        if (config.admin && socket->address.same_endpoint(*config.admin)) continue;
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
    if (adopting_) {
        adoption_deadline_ms_ = monotonic_ms() + kAdoptionMs;
        log_.notice("upgraded in place: {} workers of the previous version serve until ours are ready",
                    supervisor_->adopted_ready_count());
    }
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
            if (pending.upgrade) upgrade(now, false);
            if (pending.reload) reload_or_upgrade(now);
            retry_generation_if_due(now);
            if (pending.reopen_logs) reopen_logs();
            finish_reload(now);
            check_startup();
            if (adopting_ && (supervisor_->current_fatal() || now >= adoption_deadline_ms_))
                abandon_upgrade(
                    now, supervisor_->current_fatal()
                             ? std::string("the new version's workers cannot run")
                             : fmt::format("the new version's workers were not ready in {} s", kAdoptionMs / 1000));
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
    // Upgraded in place, the image before's workers serve until ours are ready.
    const bool serving = announced_ready_ || adopting_;
    const HealthState health = stopping_ != Stop::None ? HealthState::Stopping
                               : serving               ? HealthState::Serving
                                                       : HealthState::Starting;
    m.health.set(static_cast<std::uint64_t>(health));
    m.generation.set(current ? current->number : 0);
    m.workers_configured.set(current ? current->config.effective_workers() : 0);
    // Adopted workers accept until they are told to drain: they count too.
    m.workers_ready.set(supervisor_->current_ready_count() + supervisor_->adopted_ready_count());
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
    if (adopting_) until(adoption_deadline_ms_);
    if (retry_generation_ms_ > 0) until(retry_generation_ms_);
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
        case SIGUSR2: pending.upgrade = true; break;
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
    if (upgraded_) return finish_upgrade(monotonic_ms());
    publish_state();  // before READY=1: whoever hears it may probe /healthz at once
    log_.notice("ready: {} workers accepting", supervisor_->current()->config.effective_workers());
    notifier_.ready(status_line());
}

void Master::begin_stop(Stop stop, std::int64_t now) {
    if (stop == stopping_ || (stopping_ == Stop::Fast && stop == Stop::Graceful)) return;
    stopping_ = stop;
    publish_state();
    const std::int64_t grace = stop == Stop::Fast ? kFastStopGraceMs : drain_grace_ms_;
    log_.notice("{} stop: {} workers", stop == Stop::Fast ? "fast" : "graceful", supervisor_->process_count());
    notifier_.stopping(stop == Stop::Fast ? "stopping (fast)" : "stopping: draining connections");
    supervisor_->quit_all(stop == Stop::Fast ? SIGTERM : SIGQUIT, now, grace);
}

std::shared_ptr<Generation> Master::make_generation(Config config) {
    auto generation = std::make_shared<Generation>();
    if (socket_activated_) {
        generation->listeners = inherited_;  // systemd owns the addresses
    } else {
        for (const ListenAddress& address : config.effective_listen()) {
            std::shared_ptr<ListenSocket> reused = reusable_socket(address, generation->listeners);
            generation->listeners.push_back(
                reused ? reused : std::make_shared<ListenSocket>(bind_listener(address, config.backlog)));
        }
    }
    add_admin_listener(*generation, config);
    complete_generation(*generation, std::move(config));
    return generation;
}

void Master::reload(std::int64_t now) {
    if (supervisor_->pending() != nullptr || adopting_) {
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
    reload_failed(failure);
}

void Master::reload_failed(const std::string& reason) {
    last_reload_ = "failed: " + reason;
    metrics_.master().reloads_failed.add();
    notifier_.ready(status_line());
}

// In-place upgrade (SIGUSR2, or a reload after the binary on disk changed): the new
// binary first makes a trial start with the state it would be handed (run_trial); then
// this process executes it, keeping its PID (systemd's MainPID), its listening sockets,
// its workers (their channels stay open, so they serve on) and the metrics. The new
// image starts a generation of its own and drains the adopted workers once it serves
// (finish_upgrade), or gives up on it if it never does (abandon_upgrade). A binary that
// fails its trial, or cannot be executed, leaves this image serving: a failed reload.
// Returns only if the upgrade was not made: false, with the failure logged, counted
// and, when `then_reload` (a SIGHUP: the caller reloads next) not yet announced.
bool Master::upgrade(std::int64_t now, bool then_reload) {
    (void)now;
    if (const char* busy = adopting_                           ? "an upgrade is still in progress"
                           : !announced_ready_                 ? "the server is still starting"
                           : supervisor_->pending() != nullptr ? "a reload is still in progress"
                                                               : nullptr) {
        log_.error("upgrade refused: {}; try again when it ends", busy);
        upgrade_failed(fmt::format("refused: {}", busy), false);
        return false;
    }
    notifier_.reloading("upgrading in place: a trial start of the new binary");
    log_.notice("upgrading in place to {}", executable_.path);
    const UpgradeState state = upgrade_state();
    if (const auto error = run_trial(state)) {
        log_.error("upgrade failed: {}; this version serves on", *error);
        upgrade_failed(*error, !then_reload);
        return false;
    }
    const std::vector<int> fds = state.fds();
    for (int fd : fds) set_close_on_exec(fd, false);
    ::setenv(kUpgradeEnvironment, state.encode().c_str(), 1);
    std::optional<std::string> error = keep_capabilities_across_exec();
    if (!error) {
        std::vector<char*> argv{const_cast<char*>(executable_.path.c_str())};
        for (const std::string& arg : cli_.args) argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);
        ::execv(executable_.path.c_str(), argv.data());
        error = fmt::format("exec {}: {}", executable_.path, std::strerror(errno));
    }
    // Still here: undo, and serve on.
    for (int fd : fds) set_close_on_exec(fd, true);
    ::unsetenv(kUpgradeEnvironment);
    master_capabilities();
    log_.error("upgrade failed: {}; this version serves on", *error);
    upgrade_failed(*error, !then_reload);
    return false;
}

// Counted as a failed reload; said with READY=1 when `announce` (the RELOADING=1 sent
// for it must be answered), else only in the status.
void Master::upgrade_failed(const std::string& reason, bool announce) {
    last_upgrade_ = "failed: " + reason;
    metrics_.master().reloads_failed.add();
    if (announce)
        notifier_.ready(status_line());
    else
        notifier_.status(status_line());
}

// Starts the new binary with the state it would be handed, in a trial: it loads the
// configuration, opens the logs, takes the sockets, binds new addresses, loads the
// certificates and maps the metrics as it would after exec, then exits 0 without
// serving. A crash, a configuration or a state it refuses, a file that is no program:
// each is found here, while this image still runs. Returns why not. The master waits,
// pinging the watchdog, up to kUpgradeTrialMs.
std::optional<std::string> Master::run_trial(const UpgradeState& state) {
    const std::string encoded = state.encode();
    const pid_t pid = ::fork();
    if (pid < 0) return fmt::format("fork: {}", std::strerror(errno));
    if (pid == 0) {
        for (int fd : state.fds()) set_close_on_exec(fd, false);  // in this child's table only
        ::setenv(kUpgradeEnvironment, encoded.c_str(), 1);
        ::setenv(kUpgradeTrialEnvironment, "1", 1);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the master blocks its signals for its signalfd
        if (const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC); null >= 0) ::dup2(null, STDOUT_FILENO);
        (void)keep_capabilities_across_exec();  // it reads root-only key files as the master does
        std::vector<char*> argv{const_cast<char*>(executable_.path.c_str())};
        for (const std::string& arg : cli_.args) argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);
        ::execv(executable_.path.c_str(), argv.data());
        ::_exit(127);
    }
    int status = 0;
    const std::int64_t deadline = monotonic_ms() + kUpgradeTrialMs;
    for (;;) {
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done < 0) return fmt::format("waiting for the trial start: {}", std::strerror(errno));
        if (done > 0) break;
        if (monotonic_ms() >= deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return fmt::format("{} did not finish its trial start in {} s", executable_.path, kUpgradeTrialMs / 1000);
        }
        if (const auto period = notifier_.watchdog_period(); period && monotonic_ms() >= next_watchdog_ms_) {
            notifier_.watchdog();
            next_watchdog_ms_ = monotonic_ms() + period->count();
        }
        ::usleep(10'000);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return std::nullopt;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return fmt::format("{} cannot be executed", executable_.path);
    return fmt::format("{} failed its trial start ({}): see its message above", executable_.path,
                       describe_exit(status));
}

UpgradeState Master::upgrade_state() const {
    UpgradeState state;
    state.master = pid_;
    state.socket_activated = socket_activated_;
    state.metrics_fd = metrics_.fd();
    state.next_generation = next_generation_;
    const Generation* current = supervisor_->current();
    for (const auto& l : current != nullptr ? current->listeners : passed_)
        state.sockets.push_back({l->fd.get(), l->inherited, l->address.admin});
    for (const auto& p : supervisor_->processes())
        state.workers.push_back(
            {p->pid, p->generation, p->slot, p->metrics_slot, p->channel.get(), p->ready, p->quitting});
    return state;
}

// The image before's workers, tracked until they exit; their metrics slots stay theirs.
// Those that were draining drain on, with a deadline of their own.
void Master::adopt_workers(const UpgradeState& upgrade, const Config& config) {
    const std::int64_t now = monotonic_ms();
    for (const UpgradeState::Worker& w : upgrade.workers) {
        auto process = std::make_unique<WorkerProcess>();
        process->pid = w.pid;
        process->generation = w.generation;
        process->slot = w.slot;
        process->channel = UniqueFd(w.channel);
        set_close_on_exec(w.channel, true);
        process->ready = w.ready;
        process->ready_ms = now;
        process->quitting = w.quitting;
        if (w.quitting) process->kill_at_ms = now + drain_kill_after_ms(config);
        process->metrics_slot = w.metrics_slot;
        metrics_.mark_taken(w.metrics_slot);
        supervisor_->adopt(std::move(process));
    }
    adopting_ = supervisor_->adopted_ready_count() > 0;
}

// Our generation serves: the adopted workers drain, and the upgrade counts as a reload.
void Master::finish_upgrade(std::int64_t now) {
    adopting_ = upgraded_ = false;
    passed_.clear();
    supervisor_->quit_adopted(SIGQUIT, now, drain_grace_ms_);
    last_reload_ = fmt::format("ok (upgraded in place to {}, generation {})", kVersion, supervisor_->current()->number);
    metrics_.master().reloads_ok.add();
    publish_state();
    log_.notice("upgrade complete: version {} serving, generation {}", kVersion, supervisor_->current()->number);
    notifier_.ready(status_line());
    run_queued_reload(now);
}

// Our generation cannot start (its workers cannot run, or are not all ready in time):
// it is stopped, and the adopted workers of the version before serve on, as after a
// failed reload. The next reload starts a generation again, and drains them once it serves.
void Master::abandon_upgrade(std::int64_t now, const std::string& why) {
    adopting_ = upgraded_ = false;
    announced_ready_ = true;
    supervisor_->drop_current(SIGQUIT, now, drain_grace_ms_);
    log_.error("upgrade failed: {}; the previous version's workers serve on, a generation is tried again later", why);
    schedule_retry(now);
    publish_state();
    upgrade_failed(why, true);
    run_queued_reload(now);
}

void Master::finish_reload(std::int64_t now) {
    if (supervisor_->pending() == nullptr) return;
    if (supervisor_->pending_failed()) {
        const std::int64_t grace = drain_kill_after_ms(supervisor_->pending()->config);
        supervisor_->abandon(SIGQUIT, now, grace);
        last_reload_ = "failed: new workers could not start";
        metrics_.master().reloads_failed.add();
        if (supervisor_->current() == nullptr) schedule_retry(now);
        log_.error("reload failed: new workers could not start; the previous configuration serves on");
    } else if (supervisor_->pending_ready()) {
        const Generation* draining = supervisor_->current() ? supervisor_->current() : supervisor_->pending();
        const std::int64_t grace = drain_kill_after_ms(draining->config);
        supervisor_->promote(SIGQUIT, now, grace);
        supervisor_->quit_adopted(SIGQUIT, now, grace);  // after an abandoned upgrade: the old version's
        passed_.clear();
        retry_generation_ms_ = retry_delay_ms_ = 0;
        drain_grace_ms_ = drain_kill_after_ms(supervisor_->current()->config);
        last_reload_ = fmt::format("ok (generation {})", supervisor_->current()->number);
        metrics_.master().reloads_ok.add();
        log_.notice("reload complete: generation {} serving", supervisor_->current()->number);
    } else {
        return;
    }
    publish_state();
    notifier_.ready(status_line());
    run_queued_reload(now);
}

void Master::run_queued_reload(std::int64_t now) {
    if (!reload_queued_) return;
    reload_queued_ = false;
    reload_or_upgrade(now);
}

// SIGHUP: a reload, or an in-place upgrade when the binary on disk was replaced (a
// package upgrade). An upgrade that cannot be made still reloads the configuration
// (a certificate renewal must not wait on a binary), reporting both.
void Master::reload_or_upgrade(std::int64_t now) {
    if (supervisor_->pending() != nullptr || adopting_) {
        reload_queued_ = true;  // decided when what is in progress ends
        return;
    }
    // Not before the first READY=1: a start that cannot finish must stay fixable by a
    // reload with a corrected configuration.
    if (announced_ready_ && executable_.replaced_on_disk() && upgrade(now, true)) return;
    reload(now);
}

// After an upgrade was given up there is no current generation: the adopted workers
// serve, unreplaced. A generation is tried again (a reload) after a back-off, at once
// when none of them is left.
void Master::retry_generation_if_due(std::int64_t now) {
    if (supervisor_->current() != nullptr || supervisor_->pending() != nullptr || retry_generation_ms_ == 0) return;
    if (now < retry_generation_ms_ && supervisor_->adopted_ready_count() > 0) return;
    log_.notice("starting a generation again after the failed upgrade");
    retry_generation_ms_ = 0;
    reload(now);
    if (supervisor_->current() == nullptr && supervisor_->pending() == nullptr) schedule_retry(now);
}

void Master::schedule_retry(std::int64_t now) {
    retry_delay_ms_ = std::min(retry_delay_ms_ == 0 ? kRetryFirstMs : retry_delay_ms_ * 2, kRetryMaxMs);
    retry_generation_ms_ = now + retry_delay_ms_;
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
        // An adopted worker (an upgrade's) writes the access log the configuration names now.
        const Generation* generation = process.generation_data ? process.generation_data.get() : supervisor_->current();
        UniqueFd access = generation != nullptr ? open_access_log(*generation) : UniqueFd();
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
        log_.warn("more workers alive than metrics slots ({}): this one's counts are not exported",
                  MetricsSegment::kSlots);
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
    std::string line =
        current != nullptr
            ? fmt::format("generation {}, {} workers", current->number, current->config.effective_workers())
            : fmt::format("{} workers of the previous version", supervisor_->adopted_ready_count());
    line += ", last reload: " + last_reload_;
    if (!last_upgrade_.empty()) line += ", last upgrade: " + last_upgrade_;
    return line;
}

}  // namespace pywebd
