#include "h1/h1_session.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "clock.hpp"
#include "session/answer.hpp"

namespace pywebd {
namespace {

constexpr std::size_t kMaxIov = 8;
// Bytes one connection may send per event-loop turn. A reader as fast as loopback never
// fills the socket, so without a budget one download would hold the worker to its end;
// with it, a turn costs at most about one large sendfile and the others get theirs.
constexpr std::size_t kSendBudgetPerTurn = 512 * 1024;
// Steps of a body made while sent (one slice of a file compressed on the fly, about a
// millisecond) per connection per turn, within the worker's own allowance per turn
// (StaticHandler::take_step): one such response never holds the worker for long, nor
// do many.
constexpr std::size_t kStreamStepsPerTurn = 1;
// Reads one connection may make per turn. A normal request takes one or two; a client
// that keeps the socket full with tiny pieces (one-byte TLS records cost a read each)
// would otherwise keep the worker in one connection's loop, its timers unchecked.
constexpr std::size_t kReadsPerTurn = 64;
// Longest chunk-size line (with its extensions) or trailer line of a chunked body.
constexpr std::size_t kMaxChunkLine = 4096;

// HTTP/2 with prior knowledge starts with this (RFC 9113 §3.4); no HTTP/1 request can.
constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class Protocol : unsigned char { Http1, Http2, Undecided };

// What a connection's first bytes speak: HTTP/2 when TLS negotiated h2, or on a listener
// that allows h2c when they are the preface (undecided while they are only its start).
Protocol first_protocol(std::string_view received, const H1Context& c) {
    if (c.transport.alpn() == "h2") return Protocol::Http2;
    if (!c.listener.h2c) return Protocol::Http1;
    const std::size_t n = std::min(received.size(), kHttp2Preface.size());
    if (received.substr(0, n) != kHttp2Preface.substr(0, n)) return Protocol::Http1;
    return n == kHttp2Preface.size() ? Protocol::Http2 : Protocol::Undecided;
}

// The first line of whatever was received, for logging a request we could not parse.
std::string_view first_line(std::string_view buffered) {
    const auto end = buffered.find_first_of("\r\n");
    return buffered.substr(0, std::min<std::size_t>(end, 512));
}

}  // namespace

void H1Session::start(H1Context& c) {
    c.arm(TimerKind::Header);
    drive(c);
}

void H1Session::on_ready(bool readable, bool writable, bool hangup, H1Context& c) {
    ready_.on_events(readable, writable, hangup);
    if (!wants_turn_) drive(c);  // otherwise its turn comes from the ready list
}

std::string_view H1Session::received() const { return buffers_ ? buffers_->buffered() : std::string_view(); }

bool H1Session::between_requests() const {
    return state_ == ConnState::Idle ||
           (state_ == ConnState::ReadingHead && (!buffers_ || (!dropping_body() && buffers_->length == 0)));
}

void H1Session::close_if_idle(H1Context& c) {
    if (between_requests()) close(c);
}

void H1Session::abort(H1Context& c) {
    if (state_ != ConnState::Closed) close(c, Ending::Shutdown);
}

void H1Session::resume(H1Context& c) {
    if (wants_turn_) drive(c);
}

void H1Session::drive(H1Context& c) {
    wants_turn_ = false;
    std::size_t budget = kSendBudgetPerTurn;
    std::size_t reads = kReadsPerTurn;
    std::size_t steps = kStreamStepsPerTurn;
    for (;;) {
        switch (state_) {
        case ConnState::ReadingHead:
        case ConnState::Idle:
            if (!read_request(c, reads)) return;
            break;
        case ConnState::Sending:
            if (!send_response(c, budget, steps)) return;
            break;
        case ConnState::Lingering: return linger(c, reads);
        case ConnState::Http2:
        case ConnState::Closed: return;
        }
    }
}

// Returns true when there is a response to send (or the state changed otherwise and
// drive() should look again), false when waiting for the client.
bool H1Session::read_request(H1Context& c, std::size_t& reads) {
    if (buffers_ && buffers_->length > 0 && process_input(c)) return true;
    while (ready_.can_read()) {
        if (!take_read(reads)) return false;
        if (!buffers_) buffers_ = c.h1.pool.acquire();
        RequestBuffers& b = *buffers_;
        const std::size_t room = b.capacity - b.length;
        const IoResult r = c.transport.read({b.input.get() + b.length, room});
        // A short read emptied the socket, unless the transport may hold bytes the socket
        // no longer shows.
        if (r.status == Io::Done) ready_.after_read(r.bytes, room, c.transport);
        switch (r.status) {
        case Io::WouldBlock:
            ready_.blocked(c.transport, false);
            if (state_ == ConnState::Idle && b.length == 0) release_buffers(c);
            return false;
        case Io::PeerClosed:
        case Io::Failed:
            if (r.status == Io::Failed) c.services.log.info("read failed conn={} error={}", c.id, r.error);
            close(c);
            return false;
        case Io::Done:
            if (state_ == ConnState::Idle) {
                state_ = ConnState::ReadingHead;
                c.arm(TimerKind::Header);
            }
            b.length += r.bytes;
            if (process_input(c)) return true;
            break;
        }
    }
    return false;
}

// Looks at the buffered bytes: drops a previous request's body, finds and parses a
// complete head, and plans its response. True once a response is planned.
bool H1Session::process_input(H1Context& c) {
    RequestBuffers& b = *buffers_;
    if (dropping_body()) {
        if (!drop_body(c)) return state_ == ConnState::Lingering || state_ == ConnState::Closed;
        // The body is gone: the next request gets a whole header timeout, or the
        // connection is idle.
        if (b.length == 0) {
            become_idle(c);
            return false;
        }
        c.arm(TimerKind::Header);
    }
    if (b.length == 0) return false;
    if (c.transport.plain_http_on_tls_port()) {
        refuse_plain_http(c);
        return true;
    }
    if (!answered_) {
        const Protocol protocol = first_protocol(b.buffered(), c);
        if (protocol == Protocol::Undecided) return false;
        if (protocol == Protocol::Http2) {
            state_ = ConnState::Http2;
            return true;
        }
    }
    const auto scan = b.scanner.scan(b.buffered(), b.length == b.capacity);
    if (scan.status == h1::HeadScanner::Status::Incomplete) return false;
    if (scan.status == h1::HeadScanner::Status::Error) {
        answer_error(h1::info(scan.error).status, h1::info(scan.error).token, c);
        return true;
    }
    const std::string_view head_text =
        b.buffered().substr(b.scanner.head_begin(), b.scanner.head_end() - b.scanner.head_begin());
    b.consumed = b.scanner.head_end();
    h1::RequestHead head;
    http::Request request;
    h1::MessageFacts message;
    h1::ParseError error = h1::parse_head(head_text, c.h1.parse_limits, b.headers, head);
    if (error == h1::ParseError::None) error = h1::analyze(head, request, message);
    if (error != h1::ParseError::None) {
        answer_error(h1::info(error).status, h1::info(error).token, c);
        return true;
    }
    answer(head, request, message, c);
    return true;
}

void H1Session::answer(const h1::RequestHead& head, const http::Request& request, const h1::MessageFacts& message,
                       H1Context& c) {
    RequestBuffers& b = *buffers_;
    answered_ = true;
    b.close = !message.keep_alive || c.services.draining;
    // A body we will not read in full leaves the connection unframed: close after.
    if (message.chunked) {
        if (!b.close && !begin_chunked_body(c)) return;
    } else if (message.content_length > c.h1.max_body_discard) {
        b.close = true;
    } else {
        b.discard = message.content_length;
    }
    b.client_closes = !message.keep_alive && !message.has_body() && b.length == b.consumed;
    b.response.clear();
    b.started_us = monotonic_us();
    answer_request(c, request, b.response);
    // A body of unknown length: chunked for HTTP/1.1; HTTP/1.0 has no chunks, so the
    // close ends it.
    b.chunked_response = b.response.stream && head.version != h1::Version::Http10;
    if (b.response.stream && !b.chunked_response) b.close = true;
    const auto connection = b.close                               ? h1::ConnectionField::Close
                            : head.version == h1::Version::Http10 ? h1::ConnectionField::KeepAlive
                                                                  : h1::ConnectionField::None;
    h1::render_head(b.response, connection, b.head, b.chunked_response);
    b.request_line = head.request_line;
    b.referer = request.referer;
    b.user_agent = request.user_agent;
    begin_sending(c);
}

// Drops what is buffered of a request body answered already. True once it has ended;
// false while more is to come, or when it cannot be read on (then lingering).
bool H1Session::drop_body(H1Context& c) {
    RequestBuffers& b = *buffers_;
    if (b.discard > 0) {
        const auto drop = static_cast<std::size_t>(std::min<std::uint64_t>(b.discard, b.length));
        b.drop_front(drop);
        b.discard -= drop;
        return b.discard == 0;
    }
    const auto r = b.chunked.feed(b.buffered(), chunked_limits(b, c));
    b.drop_front(r.consumed);
    if (r.status == h1::ChunkedBody::Status::NeedMore) return false;
    b.chunked_body = false;
    if (r.status == h1::ChunkedBody::Status::Done) return true;
    // The response went out already: all that is left is to stop reading.
    c.services.log.info("request body refused conn={} token={}", c.id,
                        r.status == h1::ChunkedBody::Status::TooLarge ? "body_too_large" : h1::info(r.error).token);
    start_lingering(c);
    return false;
}

// Reads what came of a chunked body with its head, so that a malformed one is refused
// before anything is answered (false: refused); the rest is dropped after the response,
// like a body with a Content-Length.
bool H1Session::begin_chunked_body(H1Context& c) {
    RequestBuffers& b = *buffers_;
    b.chunked = {};  // each body from the start: a decoder left done would read the next as requests
    const auto r = b.chunked.feed(b.buffered().substr(b.consumed), chunked_limits(b, c));
    b.consumed += r.consumed;  // dropped with the head
    switch (r.status) {
    case h1::ChunkedBody::Status::Invalid:
        answer_error(h1::info(r.error).status, h1::info(r.error).token, c);
        return false;
    case h1::ChunkedBody::Status::TooLarge: b.close = true; break;
    case h1::ChunkedBody::Status::NeedMore: b.chunked_body = true; break;
    case h1::ChunkedBody::Status::Done: break;
    }
    return true;
}

h1::ChunkedBody::Limits H1Session::chunked_limits(const RequestBuffers& b, const H1Context& c) {
    // A line must fit in the buffer with its CRLF, or its end could never be seen.
    return {.max_data = c.h1.max_body_discard,
            .max_line = std::min<std::size_t>(kMaxChunkLine, b.capacity - 2),
            .max_trailers = b.capacity};
}

void H1Session::answer_error(std::uint16_t status, std::string_view token, H1Context& c) {
    RequestBuffers& b = *buffers_;
    c.services.log.info("bad request conn={} status={} token={}", c.id, status, token);
    b.response.clear();
    b.started_us = monotonic_us();
    if (c.listener.admin)  // the admin listener never sends the site's error pages
        c.services.handler.builtin_error(status, false, b.response);
    else
        c.services.handler.error(c.services.sites.fallback_site, status, false, b.response);
    send_then_close(c);  // after a request we could not parse, nothing that follows can be framed
}

// Answered at the first bytes, in plain text, then closed: whatever else the client
// sends is read and dropped while lingering.
void H1Session::refuse_plain_http(H1Context& c) {
    RequestBuffers& b = *buffers_;
    c.services.log.info("plain HTTP request on a TLS port conn={}", c.id);
    b.response.clear();
    b.started_us = monotonic_us();
    c.services.handler.plain_http_on_tls_port(b.response);
    send_then_close(c);
}

// The planned response to input we will not read on from: sent with Connection: close,
// logged with the first line received.
void H1Session::send_then_close(H1Context& c) {
    RequestBuffers& b = *buffers_;
    answered_ = true;
    b.close = true;
    h1::render_head(b.response, h1::ConnectionField::Close, b.head);
    b.request_line = first_line(b.buffered());
    b.referer = b.user_agent = {};
    b.chunked_response = false;
    b.discard = 0;
    b.chunked_body = false;
    b.client_closes = false;
    begin_sending(c);
}

void H1Session::begin_sending(H1Context& c) {
    RequestBuffers& b = *buffers_;
    const Response& r = b.response;
    const bool several_writes = r.stream || std::any_of(r.segments.begin(), r.segments.end(),
                                                        [](const BodySegment& s) { return s.data == nullptr; });
    if (several_writes) c.transport.send_immediately();
    state_ = ConnState::Sending;
    b.responding = true;
    b.head_offset = b.segment_offset = b.body_sent = 0;
    b.segment = 0;
    b.chunk.clear();
    b.chunk_offset = 0;
    b.last_chunk = false;
    c.arm(TimerKind::Send);
}

void H1Session::advance(std::size_t bytes) {
    RequestBuffers& b = *buffers_;
    const Response& r = b.response;
    const std::size_t head_part = std::min<std::size_t>(bytes, b.head.size() - b.head_offset);
    b.head_offset += head_part;
    bytes -= head_part;
    b.body_sent += bytes;
    while (bytes > 0) {
        const std::uint64_t left = r.segments[b.segment].length - b.segment_offset;
        const std::uint64_t used = std::min<std::uint64_t>(left, bytes);
        b.segment_offset += used;
        bytes -= used;
        if (b.segment_offset == r.segments[b.segment].length) {
            ++b.segment;
            b.segment_offset = 0;
        }
    }
}

bool H1Session::send_response(H1Context& c, std::size_t& budget, std::size_t& steps) {
    RequestBuffers& b = *buffers_;
    const Response& r = b.response;
    while (ready_.can_write()) {
        if (budget == 0) {
            wants_turn_ = true;  // more to send and room for it, but others go first
            return false;
        }
        // Gather the head's remainder and the memory segments that follow it.
        std::array<iovec, kMaxIov> iov{};
        std::size_t count = 0;
        if (b.head_offset < b.head.size())
            iov[count++] = {const_cast<char*>(b.head.data() + b.head_offset), b.head.size() - b.head_offset};
        std::size_t after = b.segment;
        std::uint64_t offset = b.segment_offset;
        for (; count < kMaxIov && after < r.segments.size() && r.segments[after].data != nullptr; ++after, offset = 0)
            iov[count++] = {const_cast<char*>(r.segments[after].data + offset), r.segments[after].length - offset};
        IoResult result{};
        bool from_chunk = false;
        if (count > 0) {
            result = c.transport.write({iov.data(), count}, after < r.segments.size());
        } else if (b.segment < r.segments.size()) {
            const BodySegment& file = r.segments[b.segment];
            const auto chunk =
                static_cast<std::size_t>(std::min<std::uint64_t>(file.length - b.segment_offset, budget));
            result = c.transport.send_file(r.file_fd, file.offset + b.segment_offset, chunk);
            if (result.status == Io::Done && result.bytes == 0) {
                close(c, Ending::FileShrank);  // shorter than announced: the framing is broken
                return false;
            }
        } else if (stream_pending()) {
            if (b.chunk_offset == b.chunk.size()) {
                if (steps == 0 || !c.services.handler.take_step()) {
                    wants_turn_ = true;  // the next piece is made in a later turn
                    return false;
                }
                --steps;
                if (!next_chunk(c)) return false;
                continue;
            }
            iovec piece{b.chunk.data() + b.chunk_offset, b.chunk.size() - b.chunk_offset};
            result = c.transport.write({&piece, 1}, !b.last_chunk);
            from_chunk = true;
        } else {
            finish_response(c);
            return true;
        }
        switch (result.status) {
        case Io::Done:
            if (from_chunk) {
                b.chunk_offset += result.bytes;
                b.body_sent += result.bytes;
            } else {
                advance(result.bytes);
            }
            budget -= std::min(budget, result.bytes);
            c.arm(TimerKind::Send);  // progress restarts the clock
            break;
        case Io::WouldBlock: ready_.blocked(c.transport, true); return false;
        case Io::PeerClosed: close(c, Ending::PeerClosed); return false;
        case Io::Failed: close(c, Ending::SendFailed, result.error); return false;
        }
    }
    return false;
}

bool H1Session::stream_pending() const {
    const RequestBuffers& b = *buffers_;
    return b.response.stream && !(b.last_chunk && b.chunk_offset == b.chunk.size());
}

// Makes the next piece of a streamed body into b.chunk, framed: "XXXXXXXX\r\n" (the size
// in 8 hex digits, leading zeros allowed), the data, "\r\n", and after the last piece
// the last-chunk "0\r\n\r\n". False when the body cannot be finished (closed: the
// framing promised more than there is).
bool H1Session::next_chunk(H1Context& c) {
    RequestBuffers& b = *buffers_;
    BodyStream& stream = *b.response.stream;
    const std::size_t header = b.chunked_response ? 10 : 0;
    b.chunk.assign(header, '0');
    b.chunk_offset = 0;
    if (!stream.next(b.chunk)) {
        if (!b.chunked_response) c.transport.reset();  // else the client would take the close for the end
        close(c, Ending::FileShrank);
        return false;
    }
    b.last_chunk = stream.done();
    const std::size_t size = b.chunk.size() - header;
    if (size == 0) {
        // Nothing came this step: the last-chunk alone if the body is done, else nothing
        // (a chunk of size 0 would end the body early).
        b.chunk.assign(b.last_chunk && b.chunked_response ? "0\r\n\r\n" : "");
        return true;
    }
    if (!b.chunked_response) return true;
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0, bits = size; i < 8; ++i, bits >>= 4) b.chunk[7 - i] = kHex[bits & 15];
    b.chunk[8] = '\r';
    b.chunk[9] = '\n';
    b.chunk.append("\r\n");
    if (b.last_chunk) b.chunk.append("0\r\n\r\n");
    return true;
}

// The one place a response ends, however it ends: its access-log line with the bytes
// that actually went out, and for an abort, why.
void H1Session::complete(H1Context& c, Ending how, int error) {
    RequestBuffers& b = *buffers_;
    b.responding = false;
    const SessionServices& s = c.services;
    // Scrapes and probes are not the site's traffic: neither logged nor counted.
    if (s.access_log.enabled() && !c.listener.admin)
        s.access_log.add({c.peer, s.date.now(), b.request_line, b.response.status, b.body_sent, b.referer, b.user_agent,
                          s.log_tls, c.transport.tls_protocol(), c.transport.tls_cipher()});
    if (!c.listener.admin)
        s.counters.record(MetricProtocol::Http1, b.response.status, b.body_sent,
                          static_cast<std::uint64_t>(monotonic_us() - b.started_us));
    if (how == Ending::Complete) return;
    // A client going away is its business (info); a file changing under us is ours.
    const LogLevel level = how == Ending::FileShrank ? LogLevel::Warn : LogLevel::Info;
    if (error != 0)
        s.log.log(level, "response aborted conn={} status={} sent={} reason={} error={}", c.id, b.response.status,
                  b.body_sent, token(how), std::strerror(error));
    else
        s.log.log(level, "response aborted conn={} status={} sent={} reason={}", c.id, b.response.status, b.body_sent,
                  token(how));
}

void H1Session::finish_response(H1Context& c) {
    RequestBuffers& b = *buffers_;
    complete(c, Ending::Complete);
    if (b.chunk.capacity() > 0) std::string().swap(b.chunk);  // kept-alive buffers hold no stream's piece
    if (b.close) return start_lingering(c);
    b.response.clear();
    b.drop_front(b.consumed);
    b.consumed = 0;
    b.scanner.reset();
    if (b.length > 0 || dropping_body()) {
        state_ = ConnState::ReadingHead;  // a pipelined request, or a body to skip first
        c.arm(TimerKind::Header);
    } else {
        become_idle(c);
    }
    c.transport.send_immediately();  // kept alive: the next response must not wait for this one's ACK
}

// Closing with unread input makes the kernel reset the connection, which can destroy
// the response before the client reads it. That risk exists unless the client itself
// asked to close and sent nothing after its request: nothing buffered, the last read
// emptied the source, and no input reported since, also while the response went out
// (nginx's "lingering_close auto"). Whenever that is not known (a read that filled the
// buffer, a half-close, a transport that may hold more), shut our side, then read and
// drop what the client still sends until it closes or the linger timer fires.
void H1Session::start_lingering(H1Context& c) {
    const bool quiet = buffers_->client_closes && !ready_.readable;
    release_buffers(c);
    if (!c.services.linger || quiet || !c.transport.shutdown_write()) return close(c);
    state_ = ConnState::Lingering;
    c.arm(TimerKind::Linger);
}

void H1Session::linger(H1Context& c, std::size_t& reads) {
    while (ready_.can_read() && take_read(reads)) {
        const IoResult r = c.transport.read(c.services.drop_buffer);
        if (r.status == Io::WouldBlock)
            ready_.blocked(c.transport, false);
        else if (r.status != Io::Done)
            return close(c);
    }
}

// One read from this turn's allowance; none left: the connection waits for its next turn.
bool H1Session::take_read(std::size_t& reads) {
    if (reads == 0) {
        wants_turn_ = true;
        return false;
    }
    --reads;
    return true;
}

void H1Session::on_timeout(TimerKind kind, H1Context& c) {
    switch (kind) {
    case TimerKind::Header:
        // A head in progress gets a 408; a body being dropped after its response, nothing.
        if (state_ == ConnState::ReadingHead && buffers_ && dropping_body()) {
            c.services.log.info("request body timed out conn={}", c.id);
        } else if (state_ == ConnState::ReadingHead && buffers_ && buffers_->length > 0) {
            answer_error(408, "header_timeout", c);
            return drive(c);
        }
        return close(c);
    case TimerKind::Send: return close(c, Ending::SendTimeout);
    case TimerKind::KeepAlive:
    case TimerKind::Linger: return close(c);
    }
}

void H1Session::become_idle(H1Context& c) {
    state_ = ConnState::Idle;
    c.arm(TimerKind::KeepAlive);
    release_buffers(c);
}

void H1Session::release_buffers(H1Context& c) {
    if (!buffers_) return;
    if (buffers_->chunk.capacity() > 0) std::string().swap(buffers_->chunk);  // pooled buffers hold no stream's piece
    c.h1.pool.release(std::move(buffers_));
}

void H1Session::close(H1Context& c, Ending why, int error) {
    if (buffers_ && buffers_->responding) complete(c, why, error);
    c.services.timers.disarm(c.timer);
    release_buffers(c);
    c.transport.close();
    state_ = ConnState::Closed;
}

}  // namespace pywebd
