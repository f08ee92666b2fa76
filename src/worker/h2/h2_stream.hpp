#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "http/request.hpp"
#include "http/response.hpp"

namespace pywebd {

// One HTTP/2 request and its response. The request's names and values are copied into
// `text` as HPACK decodes them and located by `spans`; once the head is complete the
// views of `request` point into it, and it no longer changes.
struct H2Stream {
    explicit H2Stream(std::int32_t stream_id) : id(stream_id) {}

    struct Span {
        std::uint32_t name, name_length, value, value_length;
    };

    // Keeps a field of the request; false once the fields pass `limit` bytes, counted as
    // RFC 9113 §6.5.2 does (name + value + 32 each), after which only pseudo-fields are
    // kept (each cut to `limit` bytes).
    bool add_field(std::string_view name, std::string_view value, std::size_t limit);
    // Back to a new stream's state, keeping the buffers' capacity (for StreamPool): no
    // field, body or file is referred to afterwards.
    void clear();
    // Builds `request` from the fields (nghttp2 has checked the pseudo-fields) and the
    // access log's request line. Call once, when the head is complete.
    void finish_head();

    std::int32_t id;
    std::string text;
    std::vector<Span> spans;
    std::size_t field_bytes = 0;
    bool too_large = false;  // the fields passed the limit: answered with 431
    bool head_done = false;  // the request's head is complete; trailers are not kept

    std::vector<http::Header> fields;    // regular fields, views into `text`
    std::size_t field_lines = 0;         // as HTTP/1.1 would count them: cookie crumbs as one (§8.2.3)
    std::size_t target_length = 0;       // of :path, as received (even if cut)
    bool bad_target = false;             // :path holds what no HTTP/1.1 request-target may (400)
    bool conflicting_authority = false;  // a Host naming another authority than :authority (§8.3.1)
    http::Request request;
    std::string request_line;  // "GET /path HTTP/2.0", for the access log

    Response response;
    bool responded = false;   // a response was submitted
    std::size_t segment = 0;  // the body segment the next DATA frame comes from
    std::uint64_t segment_offset = 0;
    std::string produced;             // the piece of a streamed body (Response::stream) being framed
    std::size_t produced_offset = 0;  // how much of it is in DATA frames already
    std::uint64_t body_sent = 0;      // body bytes written to the transport
    std::int64_t started_us = 0;      // when the response was planned, for the duration metric
    std::uint32_t queued = 0;         // output chunks of this stream not yet written
    bool closed = false;              // nghttp2 closed it
    std::uint32_t close_error = 0;
    // The stall watch (H2Session::check_stalls): body bytes sent at its last look.
    bool checked = false;
    std::uint64_t sent_at_check = 0;
    bool timed_out = false;  // reset for making no progress
};

}  // namespace pywebd
