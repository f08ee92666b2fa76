#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "http/body_stream.hpp"
#include "http/byte_ranges.hpp"
#include "http/field_block.hpp"

namespace pywebd {

// A piece of a response body: bytes in memory, or a byte range of the response's file.
struct BodySegment {
    const char* data = nullptr;  // memory when set; otherwise a range of `Response::file`
    std::uint64_t offset = 0;    // file offset (file segments)
    std::uint64_t length = 0;
};

// One response as the handler plans it, in no protocol's syntax: a status, fields and
// a body; each session renders it (HTTP/1 adds the status line, Connection and CRLFs).
// Fields are shared blocks built once (Server and Date, a cached file's fixed fields),
// in order, then this response's own. Objects are pooled with a session's per-request
// state, so the strings and vectors keep their capacity and a steady stream of
// requests allocates nothing.
struct Response {
    std::uint16_t status = 0;
    std::vector<const http::FieldBlock*> shared;  // must outlive the rendering of this response
    http::FieldBlock fields;                      // made for this response
    std::string parts;                            // multipart part headers and the closing delimiter
    std::vector<BodySegment> segments;            // the body (none for HEAD)
    std::vector<http::ByteRange> ranges;
    int file_fd = -1;                        // what file segments are read from
    std::shared_ptr<const void> holds;       // keeps the file and in-memory bodies alive while sending
    std::shared_ptr<const void> holds_body;  // a body held apart from the file (a cached compressed variant)
    // A body made while sent, after the segments (none for HEAD); its length is unknown,
    // so there is no Content-Length.
    std::shared_ptr<BodyStream> stream;

    void clear() {
        status = 0;
        shared.clear();
        fields.clear();
        parts.clear();
        segments.clear();
        ranges.clear();
        file_fd = -1;
        holds.reset();
        holds_body.reset();
        stream.reset();
    }
    // Every field, shared blocks first, as (name, value): how HTTP/2 will send them.
    template <typename Each>
    void for_each_field(Each&& each) const {
        for (const http::FieldBlock* block : shared)
            for (std::size_t i = 0; i < block->size(); ++i) each((*block)[i]);
        for (std::size_t i = 0; i < fields.size(); ++i) each(fields[i]);
    }
};

}  // namespace pywebd
