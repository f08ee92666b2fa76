#pragma once

#include <cstdint>

#include "h1/h1_session.hpp"
#include "h2/h2_session.hpp"
#include "net/peer_address.hpp"
#include "net/plain_transport.hpp"
#include "net/timer_lists.hpp"
#include "net/tls_transport.hpp"
#include "unique_fd.hpp"

namespace pywebd {

// What connections use from their worker: what every session uses, and what each
// protocol's session uses of its own.
struct ConnectionServices {
    SessionServices session;
    H1Services h1;
    H2Services h2;
    std::span<const ListenAddress> listeners;  // what each listener's connections get, by index
};

// One client connection in a worker slot: its transport (how bytes move), its protocol
// session (what they mean) and its timer (the connection is the timer's node). It turns
// epoll readiness and timer expiry into session calls. Held inline, with no allocation
// beyond the connection itself: an idle plain keep-alive connection costs the worker
// this object and nothing else; a TLS one adds its TlsTransport and OpenSSL's state.
// Every connection starts with the HTTP/1 session, which also recognises HTTP/2 (ALPN h2,
// or the h2c preface where the listener allows it) and hands over: the HTTP/2 session
// is then allocated and takes the bytes already read.
class Connection : public TimerNode {
public:
    // `tcp`: a TCP socket (TCP_NODELAY applies), not a unix one from socket activation.
    // `reuse_tag` tells this connection from earlier ones in the same slot, so a stale
    // epoll event for a freed slot is recognised.
    // `listener`: the index of the listener it arrived on (ConnectionServices::listeners).
    Connection(UniqueFd fd, PeerAddress peer, std::uint32_t slot, std::uint32_t reuse_tag, std::uint32_t id,
               bool tcp = true, std::uint8_t listener = 0);
    // Speaks TLS from now on (before start()), with `ssl` made for its socket.
    void secure(SslPtr ssl, TlsWorkerState& state);

    void start(ConnectionServices& s);  // just accepted
    void on_events(std::uint32_t events, ConnectionServices& s);
    void on_timeout(ConnectionServices& s);
    void close_if_idle(ConnectionServices& s);
    void abort(ConnectionServices& s);  // the worker is exiting
    void resume(ConnectionServices& s);

    bool wants_turn() const { return h2_ ? h2_->wants_turn() : session_.wants_turn(); }
    // Whether the worker has it on its ready list (so it is listed once).
    bool queued() const { return queued_; }
    void set_queued(bool queued) { queued_ = queued; }
    bool closed() const { return h2_ ? h2_->closed() : session_.closed(); }
    bool idle() const { return h2_ ? h2_->idle() : session_.between_requests(); }
    const H1Session& session() const { return session_; }  // for tests
    bool speaks_http2() const { return h2_ != nullptr; }
    std::uint32_t slot() const { return slot_; }
    std::uint8_t listener() const { return listener_; }  // index of the listener it arrived on
    std::uint32_t reuse_tag() const { return reuse_tag_; }

private:
    H1Context context(ConnectionServices& s) {
        return {{transport(), *this, peer_, id_, s.listeners[listener_], s.session}, s.h1};
    }
    H2Context h2_context(ConnectionServices& s) {
        return {{transport(), *this, peer_, id_, s.listeners[listener_], s.session}, s.h2};
    }
    Transport& transport() { return tls_ ? static_cast<Transport&>(*tls_) : socket_; }
    // After each call into the HTTP/1 session: hands over when it found HTTP/2.
    void hand_over_if_http2(ConnectionServices& s);

    PlainTransport socket_;
    std::unique_ptr<TlsTransport> tls_;  // over socket_, for a TLS listener's connections
    H1Session session_;
    std::unique_ptr<H2Session> h2_;  // once the connection speaks HTTP/2
    std::uint32_t id_;               // for logs: wraps after 4 billion connections of a worker
    std::uint32_t slot_;
    std::uint32_t reuse_tag_;
    PeerAddress peer_;
    bool queued_ = false;
    std::uint8_t listener_;
};

}  // namespace pywebd
