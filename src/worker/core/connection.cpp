#include "core/connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "h1/request_facts.hpp"
#include "net/io.hpp"

namespace pywebd {
namespace {

constexpr std::size_t kMaxIov = 8;
// Bytes one connection may send per event-loop turn. A reader as fast as loopback never
// fills the socket, so without a budget one download would hold the worker to its end;
// with it, a turn costs at most about one large sendfile and the others get theirs.
constexpr std::size_t kSendBudgetPerTurn = 512 * 1024;

std::string_view token(Ending how) {
    switch (how) {
    case Ending::Complete: return "complete";
    case Ending::PeerClosed: return "peer_closed";
    case Ending::SendFailed: return "send_error";
    case Ending::SendTimeout: return "send_timeout";
    case Ending::FileShrank: return "file_shrank";
    case Ending::Shutdown: return "shutdown";
    }
    return "unknown";
}

// The first line of whatever was received, for logging a request we could not parse.
std::string_view first_line(std::string_view buffered) {
    const auto end = buffered.find_first_of("\r\n");
    return buffered.substr(0, std::min<std::size_t>(end, 512));
}

}  // namespace

Connection::Connection(UniqueFd fd, PeerAddress peer, std::uint32_t slot, std::uint32_t reuse_tag, std::uint64_t id,
                       bool tcp)
    : fd_(std::move(fd)), id_(id), slot_(slot), reuse_tag_(reuse_tag), peer_(peer), nodelay_(!tcp) {}

// Nagle would hold back the last short segment of a response while earlier ones are
// unacknowledged: needed once a connection is kept alive (responses follow each other)
// or a response takes several writes. A one-write response on a closing connection
// does not need it, which saves a syscall per such connection.
void Connection::set_nodelay() {
    if (nodelay_) return;
    nodelay_ = true;
    const int on = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

void Connection::start(ConnectionServices& s) {
    s.timers.arm(*this, TimerKind::Header, s.now_ms);
    drive(s);
}

void Connection::on_events(std::uint32_t events, ConnectionServices& s) {
    // ERR and HUP count as both: the next read or write finds out what happened.
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) peer_shut_ = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) writable_ = true;
    if (!wants_turn_) drive(s);  // otherwise its turn comes from the ready list
}

bool Connection::between_requests() const {
    return state_ == ConnState::Idle ||
           (state_ == ConnState::ReadingHead && discard_ == 0 && (!buffers_ || buffers_->length == 0));
}

void Connection::close_if_idle(ConnectionServices& s) {
    if (between_requests()) close(s);
}

void Connection::abort(ConnectionServices& s) {
    if (state_ != ConnState::Closed) close(s, Ending::Shutdown);
}

void Connection::resume(ConnectionServices& s) {
    if (wants_turn_) drive(s);
}

void Connection::drive(ConnectionServices& s) {
    wants_turn_ = false;
    std::size_t budget = kSendBudgetPerTurn;
    for (;;) {
        switch (state_) {
        case ConnState::ReadingHead:
        case ConnState::Idle:
            if (!read_request(s)) return;
            break;
        case ConnState::Sending:
            if (!send_response(s, budget)) return;
            break;
        case ConnState::Lingering: return linger(s);
        case ConnState::Closed: return;
        }
    }
}

// Returns true when there is a response to send (or the state changed otherwise and
// drive() should look again), false when waiting for the client.
bool Connection::read_request(ConnectionServices& s) {
    if (buffers_ && buffers_->length > 0 && process_input(s)) return true;
    while (readable_) {
        if (!buffers_) buffers_ = s.pool.acquire();
        RequestBuffers& b = *buffers_;
        const std::size_t room = b.capacity - b.length;
        const IoResult r = read_some(fd_.get(), {b.input.get() + b.length, room});
        // A short read emptied the socket: new data will raise a new edge, so the read
        // that would only say EAGAIN is skipped. Not after a hangup, whose EOF must be read.
        if (r.status == Io::Done && r.bytes < room && !peer_shut_) readable_ = false;
        switch (r.status) {
        case Io::WouldBlock:
            readable_ = false;
            if (state_ == ConnState::Idle && b.length == 0) release_buffers(s);
            return false;
        case Io::PeerClosed:
        case Io::Failed:
            if (r.status == Io::Failed) s.log.info("read failed conn={} error={}", id_, r.error);
            close(s);
            return false;
        case Io::Done:
            if (state_ == ConnState::Idle) {
                state_ = ConnState::ReadingHead;
                s.timers.arm(*this, TimerKind::Header, s.now_ms);
            }
            b.length += r.bytes;
            if (process_input(s)) return true;
            break;
        }
    }
    return false;
}

// Looks at the buffered bytes: drops a previous request's body, finds and parses a
// complete head, and plans its response. True once a response is planned.
bool Connection::process_input(ConnectionServices& s) {
    RequestBuffers& b = *buffers_;
    if (discard_ > 0) {
        const auto drop = static_cast<std::size_t>(std::min<std::uint64_t>(discard_, b.length));
        b.drop_front(drop);
        discard_ -= drop;
        if (discard_ > 0) return false;
    }
    if (b.length == 0) return false;
    const auto scan = b.scanner.scan(b.buffered(), b.length == b.capacity);
    if (scan.status == http::HeadScanner::Status::Incomplete) return false;
    if (scan.status == http::HeadScanner::Status::Error) {
        answer_error(http::info(scan.error).status, http::info(scan.error).token, s);
        return true;
    }
    const std::string_view head_text =
        b.buffered().substr(b.scanner.head_begin(), b.scanner.head_end() - b.scanner.head_begin());
    b.consumed = b.scanner.head_end();
    http::RequestHead head;
    http::RequestFacts facts;
    http::ParseError error = http::parse_head(head_text, s.parse_limits, s.header_storage, head);
    if (error == http::ParseError::None) error = http::analyze(head, facts);
    if (error != http::ParseError::None) {
        answer_error(http::info(error).status, http::info(error).token, s);
        return true;
    }
    answer(head, facts, s);
    return true;
}

void Connection::answer(const http::RequestHead& head, const http::RequestFacts& facts, ConnectionServices& s) {
    RequestBuffers& b = *buffers_;
    Framing framing{head.method == http::Method::Head, !facts.keep_alive || s.draining,
                    head.version == http::Version::Http10};
    // A body we will not read in full leaves the connection unframed: close after.
    if (facts.chunked || facts.content_length > s.max_body_discard)
        framing.close = true;
    else
        discard_ = facts.content_length;
    client_closes_ = !facts.keep_alive && !facts.has_body() && b.length == b.consumed;
    b.response.clear();
    s.handler.handle(head, facts, framing, s.now_ms, b.response);
    b.request_line = head.request_line;
    b.referer = facts.referer;
    b.user_agent = facts.user_agent;
    begin_sending(s);
}

void Connection::answer_error(std::uint16_t status, std::string_view token, ConnectionServices& s) {
    RequestBuffers& b = *buffers_;
    s.log.info("bad request conn={} status={} token={}", id_, status, token);
    b.response.clear();
    s.handler.error(status, Framing{false, true, false}, b.response);
    b.request_line = first_line(b.buffered());
    b.referer = b.user_agent = {};
    discard_ = 0;
    client_closes_ = false;
    begin_sending(s);
}

void Connection::begin_sending(ConnectionServices& s) {
    const Response& r = buffers_->response;
    const bool several_writes = std::any_of(r.segments.begin(), r.segments.end(),
                                            [](const BodySegment& segment) { return segment.data == nullptr; });
    if (several_writes) set_nodelay();
    state_ = ConnState::Sending;
    responding_ = true;
    head_offset_ = segment_offset_ = body_sent_ = 0;
    segment_ = 0;
    s.timers.arm(*this, TimerKind::Send, s.now_ms);
}

void Connection::advance(std::size_t bytes) {
    const Response& r = buffers_->response;
    const std::size_t head_part = std::min<std::size_t>(bytes, r.head.size() - head_offset_);
    head_offset_ += head_part;
    bytes -= head_part;
    body_sent_ += bytes;
    while (bytes > 0) {
        const std::uint64_t left = r.segments[segment_].length - segment_offset_;
        const std::uint64_t used = std::min<std::uint64_t>(left, bytes);
        segment_offset_ += used;
        bytes -= used;
        if (segment_offset_ == r.segments[segment_].length) {
            ++segment_;
            segment_offset_ = 0;
        }
    }
}

bool Connection::send_response(ConnectionServices& s, std::size_t& budget) {
    const Response& r = buffers_->response;
    while (writable_) {
        if (budget == 0) {
            wants_turn_ = true;  // more to send and room for it, but others go first
            return false;
        }
        // Gather the head's remainder and the memory segments that follow it.
        std::array<iovec, kMaxIov> iov{};
        std::size_t count = 0;
        if (head_offset_ < r.head.size())
            iov[count++] = {const_cast<char*>(r.head.data() + head_offset_), r.head.size() - head_offset_};
        std::size_t after = segment_;
        std::uint64_t offset = segment_offset_;
        for (; count < kMaxIov && after < r.segments.size() && r.segments[after].data != nullptr; ++after, offset = 0)
            iov[count++] = {const_cast<char*>(r.segments[after].data + offset), r.segments[after].length - offset};
        IoResult result{};
        if (count > 0) {
            result = send_some(fd_.get(), {iov.data(), count}, after < r.segments.size());
        } else if (segment_ < r.segments.size()) {
            const BodySegment& file = r.segments[segment_];
            const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(file.length - segment_offset_, budget));
            result = send_file(fd_.get(), r.file->fd.get(), file.offset + segment_offset_, chunk);
            if (result.status == Io::Done && result.bytes == 0) {
                close(s, Ending::FileShrank);  // shorter than announced: the framing is broken
                return false;
            }
        } else {
            finish_response(s);
            return true;
        }
        switch (result.status) {
        case Io::Done:
            advance(result.bytes);
            budget -= std::min(budget, result.bytes);
            s.timers.arm(*this, TimerKind::Send, s.now_ms);  // progress restarts the clock
            break;
        case Io::WouldBlock: writable_ = false; return false;
        case Io::PeerClosed: close(s, Ending::PeerClosed); return false;
        case Io::Failed: close(s, Ending::SendFailed, result.error); return false;
        }
    }
    return false;
}

// The one place a response ends, however it ends: its access-log line with the bytes
// that actually went out, and for an abort, why.
void Connection::complete(ConnectionServices& s, Ending how, int error) {
    responding_ = false;
    const RequestBuffers& b = *buffers_;
    if (s.access_log.enabled())
        s.access_log.add({peer_, s.date.now(), b.request_line, b.response.status, body_sent_, b.referer, b.user_agent});
    if (how == Ending::Complete) return;
    // A client going away is its business (info); a file changing under us is ours.
    const LogLevel level = how == Ending::FileShrank ? LogLevel::Warn : LogLevel::Info;
    if (error != 0)
        s.log.log(level, "response aborted conn={} status={} sent={} reason={} error={}", id_, b.response.status,
                  body_sent_, token(how), std::strerror(error));
    else
        s.log.log(level, "response aborted conn={} status={} sent={} reason={}", id_, b.response.status, body_sent_,
                  token(how));
}

void Connection::finish_response(ConnectionServices& s) {
    RequestBuffers& b = *buffers_;
    complete(s, Ending::Complete);
    if (b.response.close) return start_lingering(s);
    b.response.clear();
    b.drop_front(b.consumed);
    b.consumed = 0;
    b.scanner.reset();
    if (b.length > 0 || discard_ > 0) {
        state_ = ConnState::ReadingHead;  // a pipelined request, or a body to skip first
        s.timers.arm(*this, TimerKind::Header, s.now_ms);
    } else {
        state_ = ConnState::Idle;
        s.timers.arm(*this, TimerKind::KeepAlive, s.now_ms);
        release_buffers(s);
    }
    set_nodelay();  // kept alive: the next response must not wait for this one's ACK
}

// Closing with unread input makes the kernel reset the connection, which can destroy
// the response before the client reads it. That risk exists unless the client itself
// asked to close and sent nothing after its request (nginx's "lingering_close auto").
bool Connection::must_linger() const { return !client_closes_; }

// Shut our side, then read and drop what the client still sends until it closes or the
// linger timer fires (see must_linger()).
void Connection::start_lingering(ConnectionServices& s) {
    release_buffers(s);
    if (!s.linger || !must_linger() || ::shutdown(fd_.get(), SHUT_WR) != 0) return close(s);
    state_ = ConnState::Lingering;
    s.timers.arm(*this, TimerKind::Linger, s.now_ms);
}

void Connection::linger(ConnectionServices& s) {
    while (readable_) {
        const IoResult r = read_some(fd_.get(), s.scratch);
        if (r.status == Io::WouldBlock)
            readable_ = false;
        else if (r.status != Io::Done)
            return close(s);
    }
}

void Connection::on_timeout(ConnectionServices& s) {
    switch (kind) {
    case TimerKind::Header:
        if (state_ == ConnState::ReadingHead && buffers_ && buffers_->length > 0) {
            answer_error(408, "header_timeout", s);
            return drive(s);
        }
        return close(s);
    case TimerKind::Send: return close(s, Ending::SendTimeout);
    case TimerKind::KeepAlive:
    case TimerKind::Linger: return close(s);
    }
}

void Connection::release_buffers(ConnectionServices& s) {
    if (buffers_) s.pool.release(std::move(buffers_));
}

void Connection::close(ConnectionServices& s, Ending why, int error) {
    if (responding_) complete(s, why, error);
    s.timers.disarm(*this);
    release_buffers(s);
    fd_.reset();
    state_ = ConnState::Closed;
}

}  // namespace pywebd
