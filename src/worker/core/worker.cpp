#include "core/worker.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "channel.hpp"
#include "clock.hpp"
#include "exit_code.hpp"
#include "signals.hpp"
#include "version.hpp"

namespace pywebd {
namespace {

constexpr int kMaxEvents = 256;
constexpr int kAcceptBatch = 64;              // per wakeup, so one worker cannot take a whole burst
constexpr std::int64_t kAcceptRetryMs = 100;  // after EMFILE/ENFILE
// Admin connections a worker takes besides limits.max_connections: a probe or a scrape
// gets in when the site's connections are at their limit, which is when they matter.
constexpr std::size_t kAdminConnections = 8;
constexpr std::int64_t kIdleGraceMs = 1000;  // drain: idle connections get this long to send one more request
constexpr std::size_t kSpareBuffers = 64;
// Content ETags remembered per site (etag: content): they hold no descriptor (about 150
// bytes each), so far more than the open-file cache, and a client cycling through more
// files than that can force re-hashing of only files up to ContentTags::kMaxBytes.
constexpr std::size_t kContentTagsKept = 100000;

CompressionOptions compression_options(const CompressionSettings& settings) {
    CompressionOptions options;
    options.enabled = settings.enabled && (settings.br || settings.zstd || settings.gzip);
    options.codings[static_cast<std::size_t>(http::Coding::Br)] = settings.br;
    options.codings[static_cast<std::size_t>(http::Coding::Zstd)] = settings.zstd;
    options.codings[static_cast<std::size_t>(http::Coding::Gzip)] = settings.gzip;
    options.types = settings.types;
    options.min_size = settings.min_size;
    return options;
}

// epoll_event.data: the source, 24 bits of a connection's reuse tag, and its slot.
std::uint64_t key(std::uint8_t source, std::uint32_t reuse_tag, std::uint32_t index) {
    return std::uint64_t{source} << 56 | std::uint64_t{reuse_tag & 0xFFFFFFu} << 32 | index;
}

std::string random_boundary() {
    unsigned char bytes[12] = {};
    if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
        const auto seed = static_cast<std::uint64_t>(monotonic_ms()) ^ static_cast<std::uint64_t>(::getpid());
        std::memcpy(bytes, &seed, sizeof seed);
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "pywebd-";
    for (unsigned char b : bytes) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 15]);
    }
    return out;
}

std::string server_name(const Config& config) {
    return config.server_tokens ? std::string("pywebd/") + kVersion : std::string("pywebd");
}

}  // namespace

Worker::Worker(WorkerSetup setup)
    : config_(setup.config),
      mime_(setup.mime),
      log_(setup.log),
      slot_(setup.slot),
      tls_(setup.tls),
      ticket_keys_(setup.ticket_keys),
      tls_state_(setup.log),
      channel_(std::move(setup.channel)),
      date_(server_name(setup.config)),
      pool_(setup.config.limits.max_head_bytes, setup.config.limits.max_headers, kSpareBuffers),
      timers_({setup.config.timeouts.header, setup.config.timeouts.keepalive, setup.config.timeouts.send,
               setup.config.timeouts.linger}),
      drop_buffer_(16 * 1024),
      site_{-1, {}, FileCache(setup.config.cache.entries, setup.config.cache.valid), ContentTags(kContentTagsKept)},
      metrics_(setup.metrics),
      counters_(setup.metrics != nullptr && setup.metrics_slot < MetricsSegment::kSlots
                    ? setup.metrics->slot(setup.metrics_slot)
                    : unshared_counters_) {
    for (const WorkerListener& l : setup.listeners) {
        listeners_.push_back({UniqueFd(l.fd), false});
        listener_roles_.push_back(l.role);
    }
    rotate_accepts_ = setup.config.effective_workers() > 1;
    access_log_.reopen(std::move(setup.access_log));
}

Worker::~Worker() { access_log_.flush(); }

// O_PATH needs no permission on the directory itself: check, as the user the worker
// now runs as, that it may look up names in it, or every request would be a 403.
UniqueFd Worker::open_root(const Config& site) const {
    UniqueFd root(::open(site.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root || ::faccessat(root.get(), ".", X_OK, AT_EACCESS) != 0) {
        log_.crit("cannot open {}root {}: {}", site.label, site.root.string(), std::strerror(errno));
        return {};
    }
    return root;
}

ServeOptions Worker::serve_options(const Config& site, Confinement confinement) const {
    return ServeOptions{site.index,
                        site.serve_dotfiles,
                        site.serve_well_known,
                        config_.limits.max_ranges,
                        site.precompressed,
                        site.directory_listing,
                        site.error_pages,
                        HeaderRules(site.headers),
                        confinement,
                        config_.cache.small_file,
                        site.fallback,
                        site.asset_extensions,
                        Redirects(site.redirects, site.site_redirect),
                        site.etag_from_content,
                        compression_options(site.compression)};
}

// The top-level site, then each virtual host with its own root, options and caches.
bool Worker::set_up_sites() {
    root_ = open_root(config_);
    if (!root_) return false;
    const Confinement confinement = detect_confinement();
    site_.root_fd = root_.get();
    site_.options = serve_options(config_, confinement);
    sites_ = std::make_unique<Sites>(Sites{site_, {}, config_.unknown_host});
    for (const Config& entry : config_.sites) {
        UniqueFd root = open_root(entry);
        if (!root) return false;
        auto site = std::make_unique<Site>(Site{root.get(), serve_options(entry, confinement),
                                                FileCache(config_.cache.entries, config_.cache.valid),
                                                ContentTags(kContentTagsKept)});
        sites_->directory.add(*site, entry.names);
        site_roots_.push_back(std::move(root));
        virtual_hosts_.push_back(std::move(site));
    }
    if (confinement == Confinement::NoSymlinks && slot_ == 0)
        log_.notice("openat2 is not available here; symlinks under the root will not be followed");
    return true;
}

bool Worker::setup_loop() {
    if (!set_up_sites()) return false;
    // locate() opens regular files for reading through /proc/self/fd.
    if (::access("/proc/self/fd", X_OK) != 0) {
        log_.crit("/proc/self/fd is not available ({}): pywebd needs /proc", std::strerror(errno));
        return false;
    }
    handler_ = std::make_unique<StaticHandler>(mime_, date_, pages_, random_boundary(), log_, config_.cache.compressed,
                                               &counters_);
    if (metrics_ != nullptr) admin_ = std::make_unique<AdminHandler>(*metrics_, date_);
    tls_state_.counters = &counters_;
    services_ = std::make_unique<ConnectionServices>(ConnectionServices{
        SessionServices{timers_, *handler_, *sites_, access_log_, date_, log_, counters_, drop_buffer_,
                        config_.tls.log_protocol, monotonic_ms(), false, config_.timeouts.linger.count() > 0,
                        admin_.get()},
        H1Services{pool_, h1::ParseLimits{config_.limits.max_headers, config_.limits.max_uri_bytes},
                   config_.limits.max_body_discard},
        // nghttp2 takes what it reads at once: the buffer is free again
        H2Services{config_.http2, drop_buffer_, config_.limits.max_headers, config_.limits.max_uri_bytes, {}},
        listener_roles_});
    if (tls_) {
        tls_state_.ktls = tls_->ktls();
        const char* how = tls_->ktls()           ? "kernel TLS, sent with sendfile"
                          : kernel_offers_ktls() ? "encrypted in user space (ktls: off)"
                                                 : "encrypted in user space (this kernel offers no kernel TLS)";
        log_.notice("TLS file bodies: {}", how);
    }
    signals_ = open_signalfd({SIGQUIT, SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP});
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) {
        log_.crit("epoll_create1: {}", std::strerror(errno));
        return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = key(static_cast<std::uint8_t>(Source::Signal), 0, 0);
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, signals_.get(), &ev);
    ev.data.u64 = key(static_cast<std::uint8_t>(Source::Channel), 0, 0);
    if (channel_) ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, channel_.get(), &ev);
    set_accepting(true);
    update_admin_listeners();
    return std::all_of(listeners_.begin(), listeners_.end(), [](const Listener& l) { return l.registered; });
}

int Worker::run() {
    ::signal(SIGPIPE, SIG_IGN);  // sendfile to a closed socket would raise it
    if (!setup_loop()) return kWorkerFatalStatus;
    if (channel_) send_message(channel_.get(), ChannelMessage::WorkerReady);
    log_.debug("worker accepting slot={} listeners={}", slot_, listeners_.size());

    std::array<epoll_event, kMaxEvents> events{};
    while (!stop_now_) {
        const int n = ::epoll_wait(epoll_.get(), events.data(), kMaxEvents, timeout_ms());
        if (n < 0 && errno != EINTR) {
            log_.crit("epoll_wait: {}", std::strerror(errno));
            return kWorkerFatalStatus;
        }
        tick();
        handler_->new_turn();
        ready_turn_.swap(ready_);  // those waiting since an earlier turn; new ones wait for the next
        for (int i = 0; i < n; ++i) dispatch(events[static_cast<std::size_t>(i)]);
        run_ready(ready_turn_);
        expire_timers();
        free_closed();
        update_admin_listeners();
        if (draining_) {
            if (services_->session.now_ms >= idle_close_ms_) close_idle_connections();
            if (active_ == 0) break;
            if (services_->session.now_ms >= drain_deadline_ms_) {
                log_.warn("drain timed out slot={} open={}", slot_, active_);
                break;
            }
        } else {
            update_accepting();
        }
    }
    close_all();
    access_log_.flush();
    if (draining_) log_.notice("worker drained slot={} connections_at_start={}", slot_, connections_at_drain_);
    return 0;
}

void Worker::tick() {
    services_->session.now_ms = monotonic_ms();
    date_.refresh(std::time(nullptr));
    if (services_->session.now_ms - last_tick_ms_ >= 1000) {
        last_tick_ms_ = services_->session.now_ms;
        access_log_.flush();
        sample_connections();
    }
}

// The idle gauge is sampled (a connection turns idle and busy many times a second).
void Worker::sample_connections() {
    std::uint64_t idle = 0;
    for (const auto& c : slots_)
        if (c && !c->closed() && !is_admin(c->listener()) && c->idle()) ++idle;
    counters_.connections_idle.set(idle);
}

int Worker::timeout_ms() const {
    if (!ready_.empty()) return 0;  // connections wait for their next turn: only look for events
    std::int64_t wait = 1000;       // the Date header and access-log flush need a tick each second
    const std::int64_t now = services_->session.now_ms;
    if (const auto next = timers_.next_deadline()) wait = std::min(wait, *next - now);
    if (!accepting_ && accept_resume_ms_ > 0) wait = std::min(wait, accept_resume_ms_ - now);
    if (admin_resume_ms_ > 0) wait = std::min(wait, admin_resume_ms_ - now);
    if (draining_) wait = std::min({wait, drain_deadline_ms_ - now, std::max<std::int64_t>(idle_close_ms_ - now, 0)});
    return static_cast<int>(std::max<std::int64_t>(wait, 0));
}

void Worker::dispatch(const epoll_event& event) {
    const auto source = static_cast<Source>(event.data.u64 >> 56);
    const auto reuse_tag = static_cast<std::uint32_t>(event.data.u64 >> 32) & 0xFFFFFFu;
    const auto index = static_cast<std::uint32_t>(event.data.u64);
    switch (source) {
    case Source::Connection: {
        Connection* c = index < slots_.size() ? slots_[index].get() : nullptr;
        if (c == nullptr || (c->reuse_tag() & 0xFFFFFFu) != reuse_tag || c->closed()) return;
        c->on_events(event.events, *services_);
        return after_drive(*c);
    }
    case Source::Listener:
        if (index >= listeners_.size()) return;
        if (is_admin(index)) {  // registered only while it may accept (update_admin_listeners)
            accept_from(index);
            return;
        }
        if (!accepting_) return;
        // accept_from() may have stopped accepting (limit, EMFILE): then the listener
        // is out of epoll and must stay out.
        if (accept_from(index) > 0 && accepting_ && rotate_accepts_) requeue_listener(index);
        return;
    case Source::Signal: return on_signal();
    case Source::Channel: return on_channel();
    }
}

int Worker::accept_from(std::size_t listener) {
    int accepted = 0;
    const bool admin = is_admin(listener);
    for (int i = 0; i < kAcceptBatch; ++i) {
        if (admin && admin_open_ >= kAdminConnections) {
            register_listener(listener, false);  // back when one of them closes
            return accepted;
        }
        if (!admin && site_connections() >= config_.limits.max_connections) {
            log_.warn("connection limit reached slot={} limit={}", slot_, config_.limits.max_connections);
            set_accepting(false);
            return accepted;
        }
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        const int fd = ::accept4(listeners_[listener].fd.get(), reinterpret_cast<sockaddr*>(&address), &length,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            add_connection(UniqueFd(fd), address, listener);
            ++accepted;
            continue;
        }
        switch (errno) {
        case EAGAIN:
        case EINTR: return accepted;
        case ECONNABORTED:
        case EPROTO:
        case EPERM: continue;  // that one connection failed; the queue may hold more
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            // Out of descriptors or memory: stop polling the listener for a moment rather
            // than spin on an event we cannot consume. The kernel queue holds the clients.
            log_.warn("accept paused slot={} error={}", slot_, std::strerror(errno));
            if (admin) {
                admin_resume_ms_ = services_->session.now_ms + kAcceptRetryMs;
                register_listener(listener, false);
            } else {
                pause_accepting();
            }
            return accepted;
        default: log_.error("accept4: {}", std::strerror(errno)); return accepted;
        }
    }
    return accepted;
}

// Returns whether the listener is now in the state asked for.
bool Worker::register_listener(std::size_t index, bool on) {
    Listener& listener = listeners_[index];
    if (!listener.fd || listener.registered == on) return true;
    if (on) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLEXCLUSIVE;  // wake one worker per connection, not all
        ev.data.u64 = key(static_cast<std::uint8_t>(Source::Listener), 0, static_cast<std::uint32_t>(index));
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener.fd.get(), &ev) != 0) {
            log_.error("epoll_ctl add listener: {}", std::strerror(errno));
            return false;
        }
    } else if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener.fd.get(), nullptr) != 0) {
        log_.error("epoll_ctl del listener: {}", std::strerror(errno));
    }
    listener.registered = on;
    return true;
}

// EPOLLEXCLUSIVE wakes the first idle worker in the listener's wait queue, which is
// the same one whenever it is idle: under light load it would take every connection.
// Re-registering moves this worker to the back of the queue, so idle workers take
// turns.
void Worker::requeue_listener(std::size_t index) {
    register_listener(index, false);
    if (!register_listener(index, true)) pause_accepting();  // out of memory, say: try again soon
}

// Stops accepting for a moment; update_accepting() registers the listeners again.
void Worker::pause_accepting() {
    set_accepting(false);
    accept_resume_ms_ = services_->session.now_ms + kAcceptRetryMs;
}

void Worker::add_connection(UniqueFd fd, const sockaddr_storage& address, std::size_t listener) {
    SslPtr ssl;
    if (listener_roles_[listener].tls) {
        ssl = tls_ ? tls_->accept(fd.get(), listener_roles_[listener].h2) : nullptr;
        if (!ssl) {
            log_.error("cannot start TLS on a new connection: {}", openssl_errors());
            return;
        }
    }
    std::uint32_t index;
    if (!free_slots_.empty()) {
        index = free_slots_.back();
        free_slots_.pop_back();
    } else {
        index = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    const std::uint32_t reuse_tag = next_reuse_tag_++;
    const int raw = fd.get();
    const bool tcp = address.ss_family == AF_INET || address.ss_family == AF_INET6;
    slots_[index] = std::make_unique<Connection>(std::move(fd), PeerAddress::from(address), index, reuse_tag,
                                                 next_connection_id_++, tcp, static_cast<std::uint8_t>(listener));
    if (ssl) slots_[index]->secure(std::move(ssl), tls_state_);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = key(static_cast<std::uint8_t>(Source::Connection), reuse_tag, index);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, raw, &ev) != 0) {
        log_.error("epoll_ctl add: {}", std::strerror(errno));
        slots_[index].reset();
        free_slots_.push_back(index);
        return;
    }
    ++active_;
    if (listener_roles_[listener].admin)
        ++admin_open_;
    else
        counters_.connections_accepted.add();
    counters_.connections_active.set(site_connections());
    Connection& c = *slots_[index];
    c.start(*services_);
    after_drive(c);
}

// After a connection ran: closed ones are freed after the batch, those that used up
// their send budget get another turn.
void Worker::after_drive(Connection& c) {
    if (c.closed())
        closed_.push_back(c.slot());
    else if (c.wants_turn() && !c.queued()) {
        c.set_queued(true);
        ready_.emplace_back(c.slot(), c.reuse_tag());
    }
}

void Worker::run_ready(std::vector<std::pair<std::uint32_t, std::uint32_t>>& turn) {
    for (const auto& [index, reuse_tag] : turn) {
        Connection* c = slots_[index].get();
        if (c == nullptr || c->reuse_tag() != reuse_tag || c->closed()) continue;
        c->set_queued(false);
        c->resume(*services_);
        after_drive(*c);
    }
    turn.clear();
}

// The site's listeners (the admin listener has its own rules: update_admin_listeners).
void Worker::set_accepting(bool on) {
    if (on && draining_) return;
    bool all = true;
    for (std::size_t i = 0; i < listeners_.size(); ++i)
        if (!is_admin(i)) all = register_listener(i, on) && all;
    accepting_ = on;
    if (on) accept_resume_ms_ = 0;
    if (!all && on) pause_accepting();  // a listener left out would never be tried again
}

void Worker::update_accepting() {
    if (accepting_ || site_connections() >= config_.limits.max_connections) return;
    if (accept_resume_ms_ > 0 && services_->session.now_ms < accept_resume_ms_) return;
    set_accepting(true);
}

// The admin listener is in epoll while this worker may take an admin connection: below
// its own cap, past a pause (EMFILE), draining or not.
void Worker::update_admin_listeners() {
    const std::int64_t now = services_->session.now_ms;
    if (admin_resume_ms_ > 0 && now >= admin_resume_ms_) admin_resume_ms_ = 0;
    const bool on = admin_open_ < kAdminConnections && admin_resume_ms_ == 0;
    for (std::size_t i = 0; i < listeners_.size(); ++i)
        if (is_admin(i) && !register_listener(i, on)) admin_resume_ms_ = now + kAcceptRetryMs;
}

void Worker::expire_timers() {
    while (TimerNode* node = timers_.pop_expired(services_->session.now_ms)) {
        auto& c = static_cast<Connection&>(*node);
        c.on_timeout(*services_);
        after_drive(c);
    }
}

// Freed only after the batch, so a later event in the same batch never finds freed memory.
void Worker::free_closed() {
    for (const std::uint32_t index : closed_) {
        if (!slots_[index]) continue;
        if (is_admin(slots_[index]->listener())) --admin_open_;
        slots_[index].reset();
        free_slots_.push_back(index);
        --active_;
    }
    if (!closed_.empty()) counters_.connections_active.set(site_connections());
    closed_.clear();
}

void Worker::on_signal() {
    signalfd_siginfo info{};
    while (::read(signals_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        switch (info.ssi_signo) {
        case SIGQUIT: begin_drain(); break;
        case SIGTERM:
        case SIGINT: stop_now_ = true; break;
        default: break;  // HUP, USR1 and USR2 are the master's business (reload, logs, upgrade)
        }
    }
}

void Worker::on_channel() {
    for (;;) {
        bool closed = false;
        auto message = receive_message(channel_.get(), closed);
        if (!message) {
            if (closed) {
                // The master is gone: nobody will supervise us, so finish and leave.
                ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, channel_.get(), nullptr);
                channel_.reset();
                begin_drain();
            }
            return;
        }
        if (message->message == ChannelMessage::AccessLog)
            access_log_.reopen(std::move(message->fd));
        else if (message->message == ChannelMessage::ErrorLog && message->fd)
            log_.adopt(std::move(message->fd));
        else if (message->message == ChannelMessage::TicketKeys)
            take_ticket_keys(message->payload());
        OPENSSL_cleanse(message->payload_bytes.data(), message->payload_size);
    }
}

void Worker::take_ticket_keys(std::span<const unsigned char> wire) {
    if (!ticket_keys_) return;  // tickets are off in this generation
    if (!ticket_keys_->from_wire(wire))
        log_.error("malformed session ticket keys from the master; keeping the old ones");
}

void Worker::begin_drain() {
    if (draining_) return;
    set_accepting(false);  // out of epoll before closing: the master's copies keep them alive
    accept_resume_ms_ = 0;
    // Our copies; the master keeps the sockets open for the next workers. The admin
    // listener stays, so that a probe hears "draining" (503) rather than nothing.
    for (std::size_t i = 0; i < listeners_.size(); ++i)
        if (!is_admin(i)) listeners_[i].fd.reset();
    draining_ = true;
    services_->session.draining = true;
    connections_at_drain_ = active_;
    // The drain's deadline is ours to keep: at it we close what is left, log it and exit.
    // The master waits a grace period longer before it resorts to SIGKILL.
    drain_deadline_ms_ = services_->session.now_ms + config_.timeouts.shutdown.count();
    access_log_.flush();  // what was answered before the stop is on disk whatever happens next
    idle_close_ms_ = std::min(services_->session.now_ms + kIdleGraceMs, drain_deadline_ms_);
    log_.notice("worker draining slot={} open={}", slot_, active_);
}

void Worker::close_idle_connections() {
    for (auto& c : slots_) {
        if (!c || c->closed()) continue;
        c->close_if_idle(*services_);
        after_drive(*c);
    }
    free_closed();
    idle_close_ms_ = services_->session.now_ms + 1000;
}

void Worker::close_all() {
    for (auto& c : slots_) {
        if (c) c->abort(*services_);
        c.reset();
    }
    active_ = 0;
    admin_open_ = 0;
    counters_.connections_active.set(0);
    counters_.connections_idle.set(0);
}

}  // namespace pywebd
