#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/timer_lists.hpp"
#include "h1/head_parser.hpp"
#include "h1/request_buffers.hpp"
#include "http/date_cache.hpp"
#include "log.hpp"
#include "log/access_log.hpp"
#include "net/peer_address.hpp"
#include "static/static_handler.hpp"
#include "unique_fd.hpp"

namespace pywebd {

enum class ConnState : std::uint8_t {
    ReadingHead,  // waiting for (the rest of) a request head
    Sending,      // a response is being written
    Idle,         // keep-alive, between requests: holds no buffers
    Lingering,    // our side is shut; reading what the client still sends, then close
    Closed,       // fd closed; the worker frees the slot after the current event batch
};

// How a response ended. Every response ends through Connection::complete(), which logs
// it with the bytes that actually went out; all but Complete are aborts.
enum class Ending : std::uint8_t {
    Complete,     // every byte sent
    PeerClosed,   // the client reset or closed the connection (ECONNRESET, EPIPE)
    SendFailed,   // another send error
    SendTimeout,  // no progress for timeouts.send
    FileShrank,   // the file got shorter than the length announced
    Shutdown,     // the worker stopped (drain deadline, fast stop)
};

// What connections use from their worker. One per worker; `now_ms` and `draining` are
// updated by the worker's loop.
struct ConnectionServices {
    BufferPool& pool;
    TimerLists& timers;
    StaticHandler& handler;
    AccessLog& access_log;
    const DateCache& date;
    Logger& log;
    std::span<http::Header> header_storage;
    http::ParseLimits parse_limits;
    std::size_t max_body_discard;
    std::span<char> scratch;  // for bytes read only to be dropped
    std::int64_t now_ms = 0;
    bool draining = false;
    bool linger = true;  // timeouts.linger > 0
};

// One client connection: an explicit state machine driven by edge-triggered readiness.
// It reads until EAGAIN, answers pipelined requests in order, and sends each response
// as head + memory with sendmsg and file ranges with sendfile.
class Connection : public TimerNode {
public:
    // `tcp`: a TCP socket (TCP_NODELAY applies), not a unix one from socket activation.
    // `reuse_tag` tells this connection from earlier ones in the same slot, so a stale
    // epoll event for a freed slot is recognised.
    Connection(UniqueFd fd, PeerAddress peer, std::uint32_t slot, std::uint32_t reuse_tag, std::uint64_t id,
               bool tcp = true);

    void start(ConnectionServices& s);  // just accepted
    void on_events(std::uint32_t events, ConnectionServices& s);
    void on_timeout(ConnectionServices& s);
    // Graceful stop: a connection with no request in progress closes now.
    void close_if_idle(ConnectionServices& s);
    // The worker is exiting: close now, logging a response in progress as aborted.
    void abort(ConnectionServices& s);

    // Used up its send budget for this turn while the socket could take more: the worker
    // calls resume() in a later turn (edge-triggered epoll will not report it again).
    // Until then, events are only recorded: one budget per turn, however many arrive.
    bool wants_turn() const { return wants_turn_; }
    void resume(ConnectionServices& s);
    // Whether the worker has it on its ready list (so it is listed once).
    bool queued() const { return queued_; }
    void set_queued(bool queued) { queued_ = queued; }

    ConnState state() const { return state_; }
    bool between_requests() const;
    std::uint32_t slot() const { return slot_; }
    std::uint32_t reuse_tag() const { return reuse_tag_; }

private:
    void drive(ConnectionServices& s);
    bool read_request(ConnectionServices& s);
    bool process_input(ConnectionServices& s);
    void answer(const http::RequestHead& head, const http::RequestFacts& facts, ConnectionServices& s);
    void answer_error(std::uint16_t status, std::string_view token, ConnectionServices& s);
    void begin_sending(ConnectionServices& s);
    bool send_response(ConnectionServices& s, std::size_t& budget);
    void advance(std::size_t bytes);
    void finish_response(ConnectionServices& s);
    void complete(ConnectionServices& s, Ending how, int error = 0);
    void start_lingering(ConnectionServices& s);
    void linger(ConnectionServices& s);
    // The one way a connection closes; a response still being sent ends with `why`.
    void close(ConnectionServices& s, Ending why = Ending::PeerClosed, int error = 0);
    void release_buffers(ConnectionServices& s);
    void set_nodelay();
    bool must_linger() const;

    UniqueFd fd_;
    std::unique_ptr<RequestBuffers> buffers_;
    std::uint64_t id_;
    std::uint64_t discard_ = 0;      // request body bytes still to drop
    std::uint64_t head_offset_ = 0;  // bytes of the response head sent
    std::uint64_t segment_offset_ = 0;
    std::uint64_t body_sent_ = 0;
    std::uint32_t segment_ = 0;
    std::uint32_t slot_;
    std::uint32_t reuse_tag_;
    PeerAddress peer_;
    ConnState state_ = ConnState::ReadingHead;
    bool readable_ = true;  // edge-triggered: assume data until a read says otherwise
    bool writable_ = true;
    bool peer_shut_ = false;      // EPOLLRDHUP seen: keep reading to the EOF
    bool nodelay_ = false;        // TCP_NODELAY set (lazily: most short-lived connections never need it)
    bool client_closes_ = false;  // the current request asked to close, and nothing follows it
    bool responding_ = false;     // a response has begun and not yet been complete()d
    bool wants_turn_ = false;     // stopped at the send budget with the socket still writable
    bool queued_ = false;         // on the worker's ready list
};

}  // namespace pywebd
