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
#include "log/ending.hpp"
#include "session/readiness.hpp"
#include "session/session_context.hpp"

namespace pywebd {

enum class ConnState : std::uint8_t {
    ReadingHead,  // waiting for (the rest of) a request head
    Sending,      // a response is being written
    Idle,         // keep-alive, between requests: holds no buffers
    Lingering,    // our side is shut; reading what the client still sends, then close
    Http2,        // the client speaks HTTP/2 (ALPN h2, or h2c's preface): the connection hands over
    Closed,       // transport closed; the worker frees the slot after the current event batch
};

// What only HTTP/1 uses from its worker.
struct H1Services {
    BufferPool& pool;
    h1::ParseLimits parse_limits;
    std::size_t max_body_discard;
};

// A call's context for the HTTP/1 session: the common one, and HTTP/1's own services.
struct H1Context : SessionContext {
    H1Services& h1;
};

class H1Session {
public:
    void start(H1Context& c);  // just accepted
    // Readiness from epoll (edge-triggered): the session reads and writes until told to wait.
    void on_ready(bool readable, bool writable, bool hangup, H1Context& c);
    void on_timeout(TimerKind kind, H1Context& c);
    // Graceful stop: a connection with no request in progress closes now.
    void close_if_idle(H1Context& c);
    // The worker is exiting: close now, logging a response in progress as aborted.
    void abort(H1Context& c);
    // Used up its send budget for this turn while the transport could take more: the
    // worker calls resume() in a later turn (edge-triggered epoll will not report it
    // again). Until then, readiness is only recorded: one budget per turn.
    bool wants_turn() const { return wants_turn_; }
    void resume(H1Context& c);

    ConnState state() const { return state_; }
    // In state Http2: what was read so far (the connection preface, perhaps more), for the
    // HTTP/2 session; then release() gives the buffers back.
    std::string_view received() const;
    void release(H1Context& c) { release_buffers(c); }
    bool closed() const { return state_ == ConnState::Closed; }
    bool between_requests() const;

private:
    void drive(H1Context& c);
    bool read_request(H1Context& c, std::size_t& reads);
    bool process_input(H1Context& c);
    void answer(const h1::RequestHead& head, const http::Request& request, const h1::MessageFacts& message,
                H1Context& c);
    bool begin_chunked_body(H1Context& c);
    bool drop_body(H1Context& c);
    void become_idle(H1Context& c);
    static h1::ChunkedBody::Limits chunked_limits(const RequestBuffers& b, const H1Context& c);
    bool dropping_body() const { return buffers_->discard > 0 || buffers_->chunked_body; }
    void answer_error(std::uint16_t status, std::string_view token, H1Context& c);
    void refuse_plain_http(H1Context& c);
    void send_then_close(H1Context& c);
    void begin_sending(H1Context& c);
    bool send_response(H1Context& c, std::size_t& budget, std::size_t& steps);
    bool stream_pending() const;
    bool next_chunk(H1Context& c);
    void advance(std::size_t bytes);
    void finish_response(H1Context& c);
    void complete(H1Context& c, Ending how, int error = 0);
    void start_lingering(H1Context& c);
    void linger(H1Context& c, std::size_t& reads);
    bool take_read(std::size_t& reads);
    void release_buffers(H1Context& c);
    // The one way the connection closes; a response still being sent ends with `why`.
    void close(H1Context& c, Ending why = Ending::PeerClosed, int error = 0);

    std::unique_ptr<RequestBuffers> buffers_;  // only while a request is in progress
    ConnState state_ = ConnState::ReadingHead;
    Readiness ready_;
    bool wants_turn_ = false;  // stopped at a per-turn budget (sending, reading) with more to do
    bool answered_ = false;    // a request (or a bad one) was answered: the protocol is settled
};

}  // namespace pywebd
