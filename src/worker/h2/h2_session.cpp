#include "h2/h2_session.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "clock.hpp"
#include "session/answer.hpp"
#include "strings.hpp"

namespace pywebd {
namespace {

// As for HTTP/1: a bounded amount of work per connection per event-loop turn.
constexpr std::size_t kReadsPerTurn = 64;
constexpr std::size_t kSendBudgetPerTurn = 512 * 1024;
// Pieces of streamed bodies (a slice of a file compressed on the fly, about a
// millisecond each) a connection makes per turn, as over HTTP/1.1.
constexpr std::size_t kStreamStepsPerTurn = 1;
// Bytes serialised into the output queue before it is written: enough for one large
// write, little enough that one connection's burst is not held in memory.
constexpr std::uint64_t kBatch = 256 * 1024;
// What a lingering close reads at most before it closes anyway.
constexpr std::size_t kLingerBytes = 1024 * 1024;
// The PING that follows a drain's first GOAWAY; its ACK says the client has read both.
constexpr std::uint8_t kDrainPing[8] = {'p', 'y', 'w', 'e', 'b', 'd', 'g', 'o'};
constexpr std::uint64_t kTlsRecord = 16384;
constexpr std::uint64_t kFrameHeader = 9;

H2Session& session_of(void* self) { return *static_cast<H2Session*>(self); }

// HTTP/1's connection-specific fields, which HTTP/2 forbids (RFC 9113 §8.2.2).
bool connection_specific(std::string_view name) {
    return iequals(name, "connection") || iequals(name, "keep-alive") || iequals(name, "proxy-connection") ||
           iequals(name, "transfer-encoding") || iequals(name, "upgrade");
}

struct CallbacksDeleter {
    void operator()(nghttp2_session_callbacks* callbacks) const { nghttp2_session_callbacks_del(callbacks); }
};
struct OptionDeleter {
    void operator()(nghttp2_option* option) const { nghttp2_option_del(option); }
};

}  // namespace

// nghttp2 names the stream in every header callback, one per field: the last one found
// is remembered (and forgotten whenever a stream leaves the map).
H2Stream* H2Session::stream(std::int32_t id) {
    if (recent_ != nullptr && recent_->id == id) return recent_;
    const auto it = streams_.find(id);
    recent_ = it == streams_.end() ? nullptr : it->second.get();
    return recent_;
}

bool H2Session::set_up(H2Context& c) {
    nghttp2_session_callbacks* raw_callbacks = nullptr;
    if (nghttp2_session_callbacks_new(&raw_callbacks) != 0) return false;
    const std::unique_ptr<nghttp2_session_callbacks, CallbacksDeleter> callbacks(raw_callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(raw_callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(raw_callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(raw_callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(raw_callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(raw_callbacks, on_frame_send);
    nghttp2_session_callbacks_set_error_callback2(raw_callbacks, on_error);
    nghttp2_session_callbacks_set_send_data_callback(raw_callbacks, on_send_data);
    nghttp2_option* raw_option = nullptr;
    if (nghttp2_option_new(&raw_option) != 0) return false;
    const std::unique_ptr<nghttp2_option, OptionDeleter> option(raw_option);
    // HPACK: the table our encoder may use for response fields, whatever the client allows.
    nghttp2_option_set_max_deflate_dynamic_table_size(raw_option, 4096);
    nghttp2_session* raw_session = nullptr;
    if (nghttp2_session_server_new2(&raw_session, raw_callbacks, this, raw_option) != 0) return false;
    session_.reset(raw_session);
    const Http2Settings& s = c.h2.settings;
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, s.initial_window_size},
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, s.header_table_size},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(s.max_header_list_size)},
    };
    return nghttp2_submit_settings(raw_session, NGHTTP2_FLAG_NONE, settings, std::size(settings)) == 0;
}

void H2Session::start(std::string_view received, H2Context& c) {
    c_ = &c;
    if (!set_up(c)) {
        c.services.log.error("HTTP/2 session could not start conn={}: out of memory", c.id);
        return close(c, Ending::Shutdown);
    }
    c.transport.send_immediately();  // frames are batched here; what is written should go at once
    // Over TLS a DATA frame whose header and payload fill one 16 KiB record exactly goes
    // out as one record and one write (Transport::write_then_file).
    if (!c.transport.tls_protocol().empty()) max_data_payload_ = kTlsRecord - kFrameHeader;
    c.arm(TimerKind::KeepAlive);
    if (receive(received, c)) drive(c);
}

void H2Session::on_ready(bool readable, bool writable, bool hangup, H2Context& c) {
    if (closed_) return;
    c_ = &c;
    ready_.on_events(readable, writable, hangup);
    if (lingering_) return linger(c);
    if (!wants_turn_) drive(c);  // otherwise its turn comes from the ready list
}

void H2Session::resume(H2Context& c) {
    if (closed_ || !wants_turn_) return;
    c_ = &c;
    if (lingering_) return linger(c);
    drive(c);
}

// Reads and writes until the transport would block, the turn's allowance is spent, or
// nothing is left to do; then logs the streams that are done and settles the timer.
void H2Session::drive(H2Context& c) {
    wants_turn_ = false;
    steps_left_ = kStreamStepsPerTurn;
    for (const std::int32_t id : deferred_)
        if (const H2Stream* s = stream(id); s != nullptr && !s->closed) nghttp2_session_resume_data(session_.get(), id);
    deferred_.clear();
    std::size_t reads = kReadsPerTurn;
    std::size_t budget = kSendBudgetPerTurn;
    while (!closed_) {
        if (!flooded_ && ready_.can_read() && reads > 0 && !read(c, reads)) return;
        if (out_.empty() && !produce(c)) return;
        if (out_.empty() || !ready_.can_write() || budget == 0) break;
        const std::size_t budget_before = budget;
        const IoResult r = out_.flush(c.transport, budget);
        written_ += budget_before - budget;
        if (r.status == Io::WouldBlock) {
            ready_.blocked(c.transport, true);
        } else if (r.status != Io::Done) {
            if (r.status == Io::Failed && r.error != 0)
                c.services.log.info("HTTP/2 send failed conn={} error={}", c.id, r.error);
            return close(c, r.status == Io::PeerClosed ? Ending::PeerClosed
                            : r.error == 0             ? Ending::FileShrank
                                                       : Ending::SendFailed);
        }
        if (!out_.empty()) break;  // blocked, or the budget is spent
    }
    if (closed_) return;
    wants_turn_ = (reads == 0 && ready_.can_read()) || !deferred_.empty() ||
                  (budget == 0 && (!out_.empty() || nghttp2_session_want_write(session_.get())));
    settle(c);
}

bool H2Session::read(H2Context& c, std::size_t& reads) {
    const std::span<char> buffer = c.h2.read_buffer;
    while (ready_.can_read() && reads > 0) {
        --reads;
        const IoResult r = c.transport.read(buffer);
        switch (r.status) {
        case Io::WouldBlock: ready_.blocked(c.transport, false); return true;
        case Io::PeerClosed: close(c, Ending::PeerClosed); return false;
        case Io::Failed:
            c.services.log.info("read failed conn={} error={}", c.id, r.error);
            close(c, Ending::PeerClosed);
            return false;
        case Io::Done: break;
        }
        ready_.after_read(r.bytes, buffer.size(), c.transport);
        if (!receive({buffer.data(), r.bytes}, c)) return false;
        if (flooded_) return true;
    }
    return true;
}

// Gives nghttp2 what was read. False when that ended the connection (a bad preface, a
// fatal protocol error); a flood makes it stop reading instead, so the GOAWAY goes out.
bool H2Session::receive(std::string_view bytes, H2Context& c) {
    const std::uint32_t limit = c.h2.settings.max_control_frames_per_second;
    scanner_.scan(bytes, [&](std::uint8_t type, std::uint8_t flags, std::uint32_t length) {
        const FrameRates::Kind kind = FrameRates::kind_of(type, flags, length);
        if (kind != FrameRates::kKinds && !rates_.allow(kind, c.services.now_ms, limit))
            calm_down(fmt::format("more than {} {} frames in a second", limit, FrameRates::name(kind)));
    });
    if (flooded_) {
        ready_.readable = false;  // whatever else it sends is not read: the GOAWAY goes, then the close
        return true;
    }
    const auto used =
        nghttp2_session_mem_recv(session_.get(), reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    if (used == NGHTTP2_ERR_FLOODED || used == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS)
        calm_down(nghttp2_strerror(static_cast<int>(used)));  // nghttp2's own limits: unanswered PINGs, CONTINUATION
    if (flooded_) {
        ready_.readable = false;  // whatever else it sends is not read: the GOAWAY goes, then the close
        return true;
    }
    if (used < 0) {
        c.services.log.info("HTTP/2 protocol error conn={}: {}", c.id, nghttp2_strerror(static_cast<int>(used)));
        close(c, Ending::PeerClosed);
        return false;
    }
    return true;
}

// Serialises what nghttp2 has to send into the output queue, up to a batch. False if
// nghttp2 failed (the connection is closed).
bool H2Session::produce(H2Context& c) {
    while (out_.bytes() < kBatch) {
        const std::uint8_t* data = nullptr;
        const auto length = nghttp2_session_mem_send(session_.get(), &data);
        if (length < 0) {
            c.services.log.error("HTTP/2 session failed conn={}: {}", c.id, nghttp2_strerror(static_cast<int>(length)));
            close(c, Ending::SendFailed);
            return false;
        }
        if (length == 0) break;
        out_.copy(data, static_cast<std::size_t>(length));
    }
    return true;
}

// Streams that are closed and whose bytes have all gone are logged and freed; the
// connection ends when neither side has anything more to say; the timer watches what
// is left.
void H2Session::settle(H2Context& c) {
    bool finished = false;
    std::int32_t head_pending = 0;  // the stream whose header block is unfinished (one at most, §6.10)
    for (auto it = streams_.begin(); it != streams_.end();) {
        H2Stream& s = *it->second;
        if (!s.head_done && !s.closed) head_pending = s.id;
        if (s.closed && s.queued == 0) {
            finished = true;
            finish(s, s.timed_out                         ? Ending::SendTimeout
                      : s.close_error == NGHTTP2_NO_ERROR ? Ending::Complete
                                                          : Ending::PeerClosed);
            recent_ = nullptr;
            c.h2.streams.release(std::move(it->second));
            it = streams_.erase(it);
        } else {
            ++it;
        }
    }
    if (flooded_ && out_.empty()) return end_after_goaway(c);
    const bool want_more = nghttp2_session_want_read(session_.get()) || nghttp2_session_want_write(session_.get());
    if (out_.empty() && (!want_more || (goaway_ && streams_.empty()))) return end_after_goaway(c);
    // Busy (streams open, or bytes waiting): the stall watch, checked every timeouts.send.
    // Idle: the keep-alive timer, counted from the last response (a request answered
    // within one turn never makes the connection look busy), so control frames do not
    // keep a connection open but requests do, as over HTTP/1.1.
    // A header block begun and not finished (nothing else may come between its frames,
    // RFC 9113 §6.10) on a connection with nothing else going on has timeouts.header, as
    // HTTP/1.1's head has: armed once per request, so a trickle of CONTINUATION frames
    // does not extend it. With other streams or bytes under way the stall watch stays
    // (it also ends a head that never completes), so requests split across reads cannot
    // keep restarting it.
    if (awaiting_drain_ack()) return;
    const bool others = streams_.size() > (head_pending != 0 ? 1u : 0u) || !out_.empty();
    if (head_pending != 0 && !others) {
        if (header_timer_for_ != head_pending) c.arm(TimerKind::Header);
        header_timer_for_ = head_pending;
        return;
    }
    const bool header_timer_was_armed = std::exchange(header_timer_for_, 0) != 0;
    const bool busy = !streams_.empty() || !out_.empty();
    if (busy != busy_ || (finished && !busy) || header_timer_was_armed) {
        busy_ = busy;
        c.arm(busy ? TimerKind::Send : TimerKind::KeepAlive);
    }
}

// Every timeouts.send while busy: a connection that wrote nothing although bytes were
// waiting is closed (the client is not reading); a stream whose body made no progress
// since the last check (a client that opens no window for it, or the connection's) is
// reset with CANCEL; a request head that never completed ends the connection. Progress
// elsewhere on the connection keeps no stream alive whose window the client keeps shut.
void H2Session::check_stalls(H2Context& c) {
    if (!out_.empty() && written_ == written_at_check_) {
        c.services.log.info("HTTP/2 connection stalled conn={}: nothing written for {} s", c.id,
                            c.services.timers.duration(TimerKind::Send).count() / 1000);
        return close(c, Ending::SendTimeout);
    }
    const bool connection_moved = written_ != written_at_check_;
    written_at_check_ = written_;
    for (auto& [id, stream] : streams_) {
        H2Stream& s = *stream;
        if (s.closed) continue;
        if (!s.checked) {
            s.checked = true;
            s.sent_at_check = s.body_sent;
            continue;
        }
        if (!s.head_done) {
            c.services.log.info("HTTP/2 request head never completed conn={} stream={}", c.id, s.id);
            return close(c, Ending::SendTimeout);
        }
        if (!s.responded) continue;  // reset by us (malformed), its RST_STREAM on the way
        if (s.body_sent == s.sent_at_check && !held_back_by_siblings(s, connection_moved)) {
            s.timed_out = true;
            nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, s.id, NGHTTP2_CANCEL);
        }
        s.sent_at_check = s.body_sent;
    }
    c.arm(TimerKind::Send);
    drive(c);
}

// A stream that made no progress although the client leaves it a window, while the
// connection did move, is waiting its turn behind the streams its priority puts first
// (a browser chains each request on the one before): not a stall. One whose window
// (or the connection's) the client keeps shut is.
bool H2Session::held_back_by_siblings(const H2Stream& s, bool connection_moved) const {
    return connection_moved && nghttp2_session_get_stream_remote_window_size(session_.get(), s.id) > 0 &&
           nghttp2_session_get_remote_window_size(session_.get()) > 0;
}

bool H2Session::awaiting_drain_ack() const { return drain_started_ && !goaway_; }

void H2Session::send_final_goaway() {
    goaway_ = true;
    nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_.get()),
                          NGHTTP2_NO_ERROR, nullptr, 0);
}

void H2Session::finish(H2Stream& s, Ending why) {
    if (!s.responded || c_ == nullptr) return;
    const H2Context& c = *c_;
    const SessionServices& services = c.services;
    if (services.access_log.enabled())
        services.access_log.add({c.peer, services.date.now(), s.request_line, s.response.status, s.body_sent,
                                 s.request.referer, s.request.user_agent, services.log_tls, c.transport.tls_protocol(),
                                 c.transport.tls_cipher()});
    services.counters.record(MetricProtocol::Http2, s.response.status, s.body_sent,
                             static_cast<std::uint64_t>(monotonic_us() - s.started_us));
    if (why != Ending::Complete)
        services.log.info("response aborted conn={} stream={} status={} sent={} reason={}", c.id, s.id,
                          s.response.status, s.body_sent, token(why));
}

void H2Session::on_timeout(TimerKind kind, H2Context& c) {
    if (closed_) return;
    c_ = &c;
    if (lingering_) return close(c, Ending::Complete);
    switch (kind) {
    case TimerKind::Send: return check_stalls(c);
    case TimerKind::KeepAlive:  // idle: say so before closing, so the client knows nothing was lost
        if (!goaway_) send_final_goaway();
        busy_ = true;  // the GOAWAY must go out within the stall watch
        c.arm(TimerKind::Send);
        return drive(c);
    case TimerKind::Linger:  // a drain whose PING was never acknowledged: the final GOAWAY anyway
        if (awaiting_drain_ack()) send_final_goaway();
        c.arm(busy_ ? TimerKind::Send : TimerKind::KeepAlive);
        return drive(c);
    case TimerKind::Header:
        c.services.log.info("HTTP/2 request head not completed within timeouts.header conn={}", c.id);
        return close(c, Ending::SendTimeout);
    }
}

// Graceful stop in two steps (RFC 9113 §6.8): a GOAWAY naming the highest stream id
// tells the client to open nothing new, and a PING after it comes back once the client
// has read both; only then the final GOAWAY names the last stream taken. Requests the
// client sent before it knew are served, so a reload under load fails none.
void H2Session::close_if_idle(H2Context& c) {
    if (closed_ || lingering_ || drain_started_) return;
    c_ = &c;
    drain_started_ = true;
    nghttp2_submit_shutdown_notice(session_.get());  // the PING follows once it is out (on_frame_send)
    c.arm(TimerKind::Linger);                        // how long the acknowledgement may take
    drive(c);
}

void H2Session::abort(H2Context& c) {
    if (closed_) return;
    c_ = &c;
    close(c, Ending::Shutdown);
}

// Everything has been said (the last GOAWAY is out): our side is shut, and what the
// client still sends is read and dropped until it closes or the linger timer fires,
// since closing with unread input would reset the connection and could destroy the
// last frames before the client reads them.
void H2Session::end_after_goaway(H2Context& c) {
    finish_all(c, Ending::PeerClosed);
    session_.reset();
    if (!c.services.linger || !c.transport.shutdown_write()) return close(c, Ending::Complete);
    lingering_ = true;
    linger_left_ = kLingerBytes;
    ready_.readable = true;  // what arrived while we were not reading is waiting
    ready_.read_waits_write = false;
    c.arm(TimerKind::Linger);
    linger(c);
}

void H2Session::linger(H2Context& c) {
    wants_turn_ = false;
    for (std::size_t reads = kReadsPerTurn; ready_.can_read(); --reads) {
        if (reads == 0) {
            wants_turn_ = true;
            return;
        }
        const IoResult r = c.transport.read(c.services.drop_buffer);
        if (r.status == Io::WouldBlock) {
            ready_.blocked(c.transport, false);
        } else if (r.status != Io::Done || r.bytes >= linger_left_) {
            return close(c, Ending::Complete);  // closed, failed, or more than a client with nothing to say sends
        } else {
            linger_left_ -= r.bytes;
        }
    }
}

// Every stream left is logged — complete if it was, else as `why` — and goes back to the pool.
void H2Session::finish_all(H2Context& c, Ending why) {
    for (auto& [id, s] : streams_) {
        finish(*s, s->closed && s->queued == 0 && s->close_error == NGHTTP2_NO_ERROR ? Ending::Complete : why);
        c.h2.streams.release(std::move(s));
    }
    streams_.clear();
    recent_ = nullptr;
}

void H2Session::close(H2Context& c, Ending why) {
    c_ = &c;
    out_.clear();
    finish_all(c, why);
    session_.reset();
    c.services.timers.disarm(c.timer);
    c.transport.close();
    closed_ = true;
}

namespace {

// A request past the limits HTTP/1.1 applies as it parses gets the same answer here.
std::uint16_t refusal(const H2Stream& s, const H2Services& h2) {
    if (s.target_length > h2.max_uri_bytes) return 414;
    if (s.bad_target) return 400;
    if (s.too_large || s.field_lines > h2.max_headers) return 431;
    return 0;
}

}  // namespace

// The handler's answer as HEADERS (names lower-cased, HTTP/1's connection fields left
// out) and, when there is a body, DATA frames read from the response's segments.
void H2Session::respond(H2Stream& s) {
    H2Context& c = *c_;
    Response& r = s.response;
    r.clear();
    s.started_us = monotonic_us();
    if (const std::uint16_t status = refusal(s, c.h2); status != 0)
        c.services.handler.error(c.services.sites.fallback_site, status, s.request.method == http::Method::Head, r);
    else
        answer_request(c, s.request, r);
    std::size_t name_bytes = 0;
    r.for_each_field([&](const http::Header& field) { name_bytes += field.name.size(); });
    names_.resize(name_bytes);
    char* name = names_.data();
    r.for_each_field([&](const http::Header& field) {
        if (connection_specific(field.name)) return;
        for (char ch : field.name) *name++ = ascii_lower(ch);
    });
    const std::string status = std::to_string(r.status);
    nva_.clear();
    nva_.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(":status")),
                    reinterpret_cast<std::uint8_t*>(const_cast<char*>(status.data())), 7, status.size(),
                    NGHTTP2_NV_FLAG_NONE});
    std::size_t at = 0;
    r.for_each_field([&](const http::Header& field) {
        if (connection_specific(field.name)) return;
        nva_.push_back({reinterpret_cast<std::uint8_t*>(names_.data() + at),
                        reinterpret_cast<std::uint8_t*>(const_cast<char*>(field.value.data())), field.name.size(),
                        field.value.size(), NGHTTP2_NV_FLAG_NONE});
        at += field.name.size();
    });
    const bool has_body = r.stream || std::any_of(r.segments.begin(), r.segments.end(),
                                                  [](const BodySegment& segment) { return segment.length > 0; });
    nghttp2_data_provider body{};
    body.source.ptr = &s;
    body.read_callback = on_read_body;
    // nghttp2 copies the fields now, so the scratch above is free again after this call.
    const int rv = nghttp2_submit_response(session_.get(), s.id, nva_.data(), nva_.size(), has_body ? &body : nullptr);
    if (rv != 0) {
        c.services.log.error("HTTP/2 response not sent conn={} stream={}: {}", c.id, s.id, nghttp2_strerror(rv));
        nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    s.responded = true;
}

void H2Session::calm_down(std::string_view why) {
    if (flooded_) return;
    flooded_ = true;
    char address[INET6_ADDRSTRLEN];
    c_->services.log.info("HTTP/2 client flooding conn={} peer={}: {}", c_->id, c_->peer.format(address), why);
    nghttp2_session_terminate_session(session_.get(), NGHTTP2_ENHANCE_YOUR_CALM);
}

// Connection errors nghttp2 answers by itself (GOAWAY with the RFC's code): logged.
int H2Session::on_error(nghttp2_session*, int, const char* message, std::size_t length, void* self) {
    const H2Session& session = session_of(self);
    if (session.c_ != nullptr)
        session.c_->services.log.info("HTTP/2 protocol error conn={}: {}", session.c_->id,
                                      log_escaped(std::string_view(message, length)));  // may quote the client's bytes
    return 0;
}

int H2Session::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* self) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    H2Session& session = session_of(self);
    session.streams_.emplace(frame->hd.stream_id, session.c_->h2.streams.acquire(frame->hd.stream_id));
    session.c_->services.counters.h2_streams.add();
    return 0;
}

int H2Session::on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                         std::size_t name_length, const std::uint8_t* value, std::size_t value_length, std::uint8_t,
                         void* self) {
    H2Session& session = session_of(self);
    H2Stream* s = frame->hd.type == NGHTTP2_HEADERS ? session.stream(frame->hd.stream_id) : nullptr;
    if (s == nullptr) return 0;
    const std::size_t limit = session.c_->h2.settings.max_header_list_size;
    if (s->head_done)
        s->field_bytes += name_length + value_length + 32;  // trailers are not kept, only counted
    else
        s->add_field({reinterpret_cast<const char*>(name), name_length},
                     {reinterpret_cast<const char*>(value), value_length}, limit);
    // Past the limit the request gets a 431; a block that expands far beyond it (an
    // HPACK bomb: a large table entry referenced over and over) ends the connection.
    if (s->field_bytes > 4 * limit) {
        session.calm_down("a header block that decodes past 4 times the limit");
        // The stream is reset and nghttp2 decodes the rest of the block (HPACK's state
        // must stay in step) without handing each field to be checked and copied.
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return 0;
}

// A request's head is complete (END_HEADERS, after any CONTINUATION): it is answered at
// once; a body that may follow is read and dropped by nghttp2.
int H2Session::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self) {
    H2Session& session = session_of(self);
    if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK) != 0 && session.awaiting_drain_ack() &&
        std::equal(kDrainPing, kDrainPing + 8, frame->ping.opaque_data)) {
        session.send_final_goaway();
        session.c_->arm(session.busy_ ? TimerKind::Send : TimerKind::KeepAlive);
        return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    H2Stream* s = session.stream(frame->hd.stream_id);
    if (s == nullptr || s->head_done) return 0;
    s->finish_head();
    if (s->conflicting_authority) {  // malformed (RFC 9113 §8.3.1, §8.1.1): a stream error, like nghttp2's own
        session.c_->services.log.info("HTTP/2 malformed request conn={} stream={}: Host differs from :authority",
                                      session.c_->id, s->id);
        nghttp2_submit_rst_stream(session.session_.get(), NGHTTP2_FLAG_NONE, s->id, NGHTTP2_PROTOCOL_ERROR);
        return 0;
    }
    session.respond(*s);
    return 0;
}

// Streams the server resets (refused past max_concurrent_streams, malformed requests)
// are the client's doing: counted like the frames a flood sends.
int H2Session::on_frame_send(nghttp2_session* raw, const nghttp2_frame* frame, void* self) {
    H2Session& session = session_of(self);
    if (frame->hd.type == NGHTTP2_DATA) session.rates_.data_sent(frame->hd.length);
    if (frame->hd.type == NGHTTP2_GOAWAY) session.c_->services.counters.h2_goaways.add();
    if (frame->hd.type == NGHTTP2_GOAWAY && session.awaiting_drain_ack()) {
        // The drain's first GOAWAY is out: the PING behind it comes back once the client read both.
        nghttp2_submit_ping(raw, NGHTTP2_FLAG_NONE, kDrainPing);
        return 0;
    }
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 &&
        nghttp2_session_get_stream_remote_close(raw, frame->hd.stream_id) == 0) {
        // The response is complete while the request is still sending (a body we drop):
        // ask the client to stop, without error (RFC 9113 §8.1).
        nghttp2_submit_rst_stream(raw, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
        return 0;
    }
    if (frame->hd.type != NGHTTP2_RST_STREAM || frame->rst_stream.error_code == NGHTTP2_NO_ERROR) return 0;
    const H2Context& c = *session.c_;
    if (!session.rates_.allow(FrameRates::ResetByServer, c.services.now_ms,
                              c.h2.settings.max_control_frames_per_second))
        session.calm_down(fmt::format("more than {} of its streams reset by the server in a second",
                                      c.h2.settings.max_control_frames_per_second));
    return 0;
}

int H2Session::on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* self) {
    if (H2Stream* s = session_of(self).stream(stream_id)) {
        s->closed = true;
        s->close_error = error_code;
    }
    return 0;
}

// The next DATA frame's length: at most the rest of the current body segment, so a
// frame never spans two (a memory one and a file range, say). The bytes are not copied
// here: on_send_data queues them (NGHTTP2_DATA_FLAG_NO_COPY).
ssize_t H2Session::on_read_body(nghttp2_session*, std::int32_t, std::uint8_t*, std::size_t length, std::uint32_t* flags,
                                nghttp2_data_source* source, void* self) {
    H2Stream& s = *static_cast<H2Stream*>(source->ptr);
    const std::vector<BodySegment>& segments = s.response.segments;
    while (s.segment < segments.size() && s.segment_offset >= segments[s.segment].length) {
        ++s.segment;
        s.segment_offset = 0;
    }
    if (s.segment == segments.size()) return session_of(self).read_streamed(s, length, flags);
    const std::uint64_t left = segments[s.segment].length - s.segment_offset;
    const auto take =
        static_cast<std::size_t>(std::min<std::uint64_t>({length, left, session_of(self).max_data_payload_}));
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    const bool rest_empty = std::all_of(segments.begin() + static_cast<std::ptrdiff_t>(s.segment) + 1, segments.end(),
                                        [](const BodySegment& segment) { return segment.length == 0; });
    if (take == left && rest_empty) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(take);
}

// After the segments: the next DATA frame of a body made while sent, one piece per
// step; past this turn's steps the stream is deferred (drive() resumes it next turn).
ssize_t H2Session::read_streamed(H2Stream& s, std::size_t length, std::uint32_t* flags) {
    BodyStream* body = s.response.stream.get();
    if (body != nullptr && s.produced_offset == s.produced.size() && !body->done()) {
        if (steps_left_ == 0 || !c_->services.handler.take_step()) {
            deferred_.push_back(s.id);
            return NGHTTP2_ERR_DEFERRED;
        }
        --steps_left_;
        s.produced.clear();
        s.produced_offset = 0;
        if (!body->next(s.produced)) {
            c_->services.log.warn(
                "response aborted conn={} stream={}: the file changed while it was compressed, or a coder failed",
                c_->id, s.id);
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // the stream is reset
        }
    }
    const std::size_t left = s.produced.size() - s.produced_offset;
    if (body == nullptr || (left == 0 && body->done())) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
    }
    const auto take = static_cast<std::size_t>(std::min<std::uint64_t>({length, left, max_data_payload_}));
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (take == left && body->done()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(take);
}

// One DATA frame: its 9-byte header copied, its payload pointed to (memory) or named (a
// file range). A full queue makes nghttp2 ask again later with the same frame.
int H2Session::on_send_data(nghttp2_session*, nghttp2_frame* frame, const std::uint8_t* header, std::size_t length,
                            nghttp2_data_source* source, void* self) {
    H2Session& session = session_of(self);
    if (frame->data.padlen > 0) return NGHTTP2_ERR_CALLBACK_FAILURE;  // we never ask for padding
    if (session.out_.bytes() >= kBatch) return NGHTTP2_ERR_WOULDBLOCK;
    H2Stream& s = *static_cast<H2Stream*>(source->ptr);
    session.out_.copy(header, 9, &s);
    if (length > 0 && s.segment == s.response.segments.size()) {  // a piece of a streamed body
        session.out_.copy(s.produced.data() + s.produced_offset, length, &s, true);
        s.produced_offset += length;
    } else if (length > 0) {
        const BodySegment& segment = s.response.segments[s.segment];
        if (segment.data != nullptr)
            session.out_.memory(segment.data + s.segment_offset, length, &s);
        else
            session.out_.file(s.response.file_fd, segment.offset + s.segment_offset, length, &s);
        s.segment_offset += length;
    }
    return 0;
}

}  // namespace pywebd
