#include "compress/encoding_stream.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace pywebd {

EncodingStream::EncodingStream(std::shared_ptr<const void> owner, int fd, const FileVersion& version,
                               http::Coding coding, CompressionCache* cache, std::size_t* in_flight)
    : owner_(std::move(owner)), fd_(fd), version_(version), coding_(coding), cache_(cache), in_flight_(in_flight) {
    if (cache_ != nullptr && cache_->collects() && !cache_->known_too_large(version_, coding_) &&
        cache_->begin_making(version_, coding_))
        collected_ = std::make_unique<std::string>();
    if (in_flight_ != nullptr) ++*in_flight_;
}

EncodingStream::~EncodingStream() {
    stop_collecting();  // given up before the end (the client went away)
    if (!done_ && in_flight_ != nullptr) --*in_flight_;
}

bool EncodingStream::next(std::string& out) {
    if (done_) return true;
    if (!encoder_ && !(encoder_ = Encoder::create(coding_, version_.size))) return false;
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kSlice, version_.size - offset_));
    input_.resize(want);
    std::size_t got = 0;
    while (got < want) {
        const ssize_t n = ::pread(fd_, input_.data() + got, want - got, static_cast<off_t>(offset_ + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;  // shorter than its fstat said: it changed under us
        got += static_cast<std::size_t>(n);
    }
    offset_ += want;
    const bool last = offset_ == version_.size;
    const std::size_t at = out.size();
    if (!encoder_->encode(input_, last, out)) return false;
    collect(std::string_view(out).substr(at));
    if (last) finish();
    return true;
}

// Kept while it may still become a cache entry: within an entry's size, and within the
// budget all variants being made share.
void EncodingStream::collect(std::string_view piece) {
    if (!collected_) return;
    if (collected_->size() + piece.size() > cache_->max_entry()) {
        cache_->too_large(version_, coding_);  // so no later stream collects it in vain
        return stop_collecting();
    }
    if (!cache_->reserve(piece.size())) return stop_collecting();
    collected_->append(piece);
}

void EncodingStream::stop_collecting() {
    if (!collected_) return;
    cache_->release(collected_->size());
    cache_->end_making(version_, coding_);
    collected_.reset();
}

void EncodingStream::finish() {
    done_ = true;
    encoder_.reset();  // its state (megabytes) is not needed for the bytes still to send
    input_ = std::string();
    if (in_flight_ != nullptr) --*in_flight_;
    if (!collected_) return;
    auto bytes = std::shared_ptr<const std::string>(std::move(collected_));
    cache_->release(bytes->size());
    cache_->end_making(version_, coding_);
    cache_->insert(version_, coding_, std::move(bytes));
}

}  // namespace pywebd
