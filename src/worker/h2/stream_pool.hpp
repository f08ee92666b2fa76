#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "h2/h2_stream.hpp"

namespace pywebd {

// A worker's spare HTTP/2 streams, reused with the capacity of their buffers (the
// request's fields, the field list, the response's vectors): at a steady rate of
// requests a stream costs no allocation of ours, as HTTP/1's pooled request state
// doesn't. A released stream keeps no file or body alive.
class StreamPool {
public:
    std::unique_ptr<H2Stream> acquire(std::int32_t stream_id) {
        if (spare_.empty()) return std::make_unique<H2Stream>(stream_id);
        std::unique_ptr<H2Stream> stream = std::move(spare_.back());
        spare_.pop_back();
        stream->id = stream_id;
        return stream;
    }
    void release(std::unique_ptr<H2Stream> stream) {
        if (!stream || spare_.size() >= kKeep || oversized(*stream)) return;
        stream->clear();
        spare_.push_back(std::move(stream));
    }
    std::size_t spare() const { return spare_.size(); }

    static constexpr std::size_t kKeep = 256;
    // A stream that carried unusually large requests is freed rather than kept, so a
    // burst of big header blocks leaves at most kKeep small streams behind.
    static constexpr std::size_t kKeepTextBytes = 4096;
    static constexpr std::size_t kKeepFields = 64;

private:
    static bool oversized(const H2Stream& s) {
        return s.text.capacity() > kKeepTextBytes || s.spans.capacity() > kKeepFields ||
               s.fields.capacity() > kKeepFields;
    }

    std::vector<std::unique_ptr<H2Stream>> spare_;
};

}  // namespace pywebd
