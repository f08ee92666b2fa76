#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "compress/compression_cache.hpp"
#include "compress/encoder.hpp"
#include "http/body_stream.hpp"

namespace pywebd {

// A file compressed while it is sent, one slice of input per next(): the file is read
// with pread from its open descriptor and never held whole. When the cache keeps
// variants and no other stream is making the same variant (others compress for their
// own clients without collecting), the output is also
// collected (within the cache's entry size and its budget for variants being made, else
// collecting stops) and, once complete, becomes the cached variant; the next request for
// it is answered from memory with a Content-Length. Once done, the coder's state is
// freed and the stream no longer counts as in flight, though its last bytes may still be
// on their way.
class EncodingStream final : public BodyStream {
public:
    static constexpr std::size_t kSlice = 64 * 1024;  // input per step: about a millisecond of work

    // `owner` keeps `fd` open; `cache` (may be null) and `in_flight` (counts the streams
    // making output, may be null) outlive every response. The coder is made at the first
    // step, so a file of one slice never holds one between turns.
    EncodingStream(std::shared_ptr<const void> owner, int fd, const FileVersion& version, http::Coding coding,
                   CompressionCache* cache, std::size_t* in_flight = nullptr);
    ~EncodingStream() override;
    EncodingStream(const EncodingStream&) = delete;
    EncodingStream& operator=(const EncodingStream&) = delete;

    bool next(std::string& out) override;
    bool done() const override { return done_; }
    std::size_t collected_bytes() const { return collected_ ? collected_->size() : 0; }

private:
    void collect(std::string_view piece);
    void stop_collecting();
    void finish();

    std::shared_ptr<const void> owner_;
    int fd_;
    FileVersion version_;
    http::Coding coding_;
    std::unique_ptr<Encoder> encoder_;
    CompressionCache* cache_;
    std::size_t* in_flight_;
    std::uint64_t offset_ = 0;
    std::string input_;
    std::unique_ptr<std::string> collected_;  // the whole output, when it is to be cached
    bool done_ = false;
};

}  // namespace pywebd
