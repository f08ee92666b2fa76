#pragma once

// The HTTP/1.1 protocol on one connection, above its transport: scanning and parsing
// heads, dropping bodies, persistence and pipelining, sending planned responses, and the
// lingering close. An HTTP/2 session will be its sibling.

#include <cstdint>
#include <memory>
#include <span>

#include "h1/head_parser.hpp"
#include "h1/request_buffers.hpp"
#include "h1/request_framing.hpp"
#include "h1/response_head.hpp"
#include "http/date_cache.hpp"
#include "log.hpp"
#include "log/access_log.hpp"
#include "log/ending.hpp"
#include "net/peer_address.hpp"
#include "net/timer_lists.hpp"
#include "net/transport.hpp"
#include "static/static_handler.hpp"

namespace pywebd {

enum class ConnState : std::uint8_t {
    ReadingHead,  // waiting for (the rest of) a request head
    Sending,      // a response is being written
    Idle,         // keep-alive, between requests: holds no buffers
    Lingering,    // our side is shut; reading what the client still sends, then close
    Closed,       // transport closed; the worker frees the slot after the current event batch
};

// What sessions use from their worker. One per worker; `now_ms` and `draining` are
// updated by the worker's loop.
struct SessionServices {
    BufferPool& pool;
    TimerLists& timers;
    StaticHandler& handler;
    Site& site;  // what requests are answered from (one per worker until virtual hosts)
    AccessLog& access_log;
    const DateCache& date;
    Logger& log;
    h1::ParseLimits parse_limits;
    std::size_t max_body_discard;
    std::span<char> drop_buffer;  // for bytes read only to be dropped
    std::int64_t now_ms = 0;
    bool draining = false;
    bool linger = true;  // timeouts.linger > 0
};

// What a session works with for one call: its connection's transport and timer, the
// worker's services, and who the connection is (for logs).
struct SessionContext {
    Transport& transport;
    TimerNode& timer;
    const PeerAddress& peer;
    std::uint64_t id;
    SessionServices& services;

    void arm(TimerKind kind) { services.timers.arm(timer, kind, services.now_ms); }
};

class H1Session {
public:
    void start(SessionContext& c);  // just accepted
    // Readiness from epoll (edge-triggered): the session reads and writes until told to wait.
    void on_ready(bool readable, bool writable, bool hangup, SessionContext& c);
    void on_timeout(TimerKind kind, SessionContext& c);
    // Graceful stop: a connection with no request in progress closes now.
    void close_if_idle(SessionContext& c);
    // The worker is exiting: close now, logging a response in progress as aborted.
    void abort(SessionContext& c);
    // Used up its send budget for this turn while the transport could take more: the
    // worker calls resume() in a later turn (edge-triggered epoll will not report it
    // again). Until then, readiness is only recorded: one budget per turn.
    bool wants_turn() const { return wants_turn_; }
    void resume(SessionContext& c);

    ConnState state() const { return state_; }
    bool between_requests() const;

private:
    void drive(SessionContext& c);
    bool read_request(SessionContext& c);
    bool process_input(SessionContext& c);
    void answer(const h1::RequestHead& head, const http::Request& request, const h1::MessageFacts& message,
                SessionContext& c);
    void answer_error(std::uint16_t status, std::string_view token, SessionContext& c);
    void begin_sending(SessionContext& c);
    bool send_response(SessionContext& c, std::size_t& budget);
    void advance(std::size_t bytes);
    void finish_response(SessionContext& c);
    void complete(SessionContext& c, Ending how, int error = 0);
    void start_lingering(SessionContext& c);
    void linger(SessionContext& c);
    void release_buffers(SessionContext& c);
    // The one way the connection closes; a response still being sent ends with `why`.
    void close(SessionContext& c, Ending why = Ending::PeerClosed, int error = 0);
    void blocked(const Transport& transport, bool writing);
    bool can_read() const { return readable_ && !read_waits_write_; }
    bool can_write() const { return writable_ && !write_waits_read_; }

    std::unique_ptr<RequestBuffers> buffers_;  // only while a request is in progress
    ConnState state_ = ConnState::ReadingHead;
    bool readable_ = true;  // edge-triggered: assume data until a read says otherwise
    bool writable_ = true;
    bool peer_shut_ = false;  // EPOLLRDHUP seen: keep reading to the EOF
    // A transport may wait for the other direction (TLS: a write that must read first).
    bool write_waits_read_ = false;
    bool read_waits_write_ = false;
    bool wants_turn_ = false;  // stopped at the send budget with the transport still writable
};

}  // namespace pywebd
