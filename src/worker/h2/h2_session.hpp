#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config.hpp"
#include "h2/frame_rates.hpp"
#include "h2/h2_stream.hpp"
#include "h2/output_queue.hpp"
#include "h2/stream_pool.hpp"
#include "log/ending.hpp"
#include "session/readiness.hpp"
#include "session/session_context.hpp"

namespace pywebd {

// What only HTTP/2 uses from its worker.
struct H2Services {
    Http2Settings settings;
    std::span<char> read_buffer;  // shared: nghttp2 takes all it is given at once
    // HTTP/1.1's request limits, applied alike: limits.max_headers (431) and
    // limits.max_uri_bytes (414).
    std::size_t max_headers = 100;
    std::size_t max_uri_bytes = 8192;
    StreamPool streams;
};

// A call's context for the HTTP/2 session: the common one, and HTTP/2's own services.
struct H2Context : SessionContext {
    H2Services& h2;
};

struct NgHttp2SessionDeleter {
    void operator()(nghttp2_session* session) const { nghttp2_session_del(session); }
};

// HTTP/2 on one connection, the HTTP/1 session's sibling: libnghttp2 does the framing,
// HPACK, flow control and the protocol's checks (RFC 9113 §8 included); this session
// moves bytes between it and the transport, turns each complete request head into an
// http::Request for the same handler HTTP/1 uses, and sends the planned response as
// HEADERS and DATA frames whose bodies are never copied (NGHTTP2_DATA_FLAG_NO_COPY:
// memory is pointed to, file ranges go out with the transport's send_file).
class H2Session {
public:
    H2Session() = default;
    H2Session(const H2Session&) = delete;
    H2Session& operator=(const H2Session&) = delete;

    // Starts with what the connection had already read (the client's preface, maybe
    // more). The connection is closed when this fails (out of memory, a bad preface).
    void start(std::string_view received, H2Context& c);
    void on_ready(bool readable, bool writable, bool hangup, H2Context& c);
    void on_timeout(TimerKind kind, H2Context& c);
    // Graceful stop: GOAWAY, the streams in flight finish, then the connection closes.
    void close_if_idle(H2Context& c);
    void abort(H2Context& c);  // the worker is exiting
    bool wants_turn() const { return wants_turn_; }
    void resume(H2Context& c);
    bool closed() const { return closed_; }
    bool idle() const { return streams_.empty(); }  // no request in progress

private:
    // nghttp2's callbacks; `user_data` is the session.
    static int on_error(nghttp2_session*, int code, const char* message, std::size_t length, void* self);
    static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* self);
    static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                         std::size_t name_length, const std::uint8_t* value, std::size_t value_length,
                         std::uint8_t flags, void* self);
    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self);
    static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* self);
    static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* self);
    static ssize_t on_read_body(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buffer, std::size_t length,
                                std::uint32_t* flags, nghttp2_data_source* source, void* self);
    static int on_send_data(nghttp2_session*, nghttp2_frame* frame, const std::uint8_t* header, std::size_t length,
                            nghttp2_data_source* source, void* self);
    ssize_t read_streamed(H2Stream& s, std::size_t length, std::uint32_t* flags);

    bool set_up(H2Context& c);
    // A client that floods: GOAWAY ENHANCE_YOUR_CALM, read nothing more, close once the
    // GOAWAY is out (or could not go).
    void calm_down(std::string_view why);
    void drive(H2Context& c);
    bool read(H2Context& c, std::size_t& reads);
    bool receive(std::string_view bytes, H2Context& c);
    bool produce(H2Context& c);
    void respond(H2Stream& stream);
    void finish(H2Stream& stream, Ending why);
    void settle(H2Context& c);
    void check_stalls(H2Context& c);
    bool awaiting_drain_ack() const;
    bool held_back_by_siblings(const H2Stream& s, bool connection_moved) const;
    void send_final_goaway();
    void end_after_goaway(H2Context& c);
    void linger(H2Context& c);
    void close(H2Context& c, Ending why);
    void finish_all(H2Context& c, Ending why);
    H2Stream* stream(std::int32_t id);

    std::unique_ptr<nghttp2_session, NgHttp2SessionDeleter> session_;
    std::unordered_map<std::int32_t, std::unique_ptr<H2Stream>> streams_;
    H2Stream* recent_ = nullptr;  // the stream stream() found last, while in streams_
    OutputQueue out_;
    H2Context* c_ = nullptr;       // the context of the call in progress, for nghttp2's callbacks
    std::string names_;            // scratch: a response's field names, lower-cased
    std::vector<nghttp2_nv> nva_;  // scratch: a response's fields for nghttp2
    Readiness ready_;
    bool wants_turn_ = false;
    bool drain_started_ = false;         // the first GOAWAY of a graceful stop is queued
    bool goaway_ = false;                // the final one: once the streams are done, the connection closes
    bool flooded_ = false;               // calm_down() was called: no more reading
    bool lingering_ = false;             // all said, our side shut: dropping what the client still sends
    std::int32_t header_timer_for_ = 0;  // the stream whose unfinished header block timeouts.header watches
    bool busy_ = false;                  // streams open or bytes queued: the stall watch runs, not keep-alive
    std::size_t linger_left_ = 0;
    std::uint64_t written_ = 0;  // bytes written on the connection, for the stall watch
    std::uint64_t written_at_check_ = 0;
    FrameRates rates_;
    std::uint64_t max_data_payload_ = UINT64_MAX;  // per DATA frame, besides what nghttp2 allows
    FrameScanner scanner_;
    std::size_t steps_left_ = 0;          // of streamed bodies, in this turn
    std::vector<std::int32_t> deferred_;  // streams whose next piece waits for the next turn
    bool closed_ = false;
};

}  // namespace pywebd
