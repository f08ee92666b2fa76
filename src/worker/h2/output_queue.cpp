#include "h2/output_queue.hpp"

#include <algorithm>

#include "h2/h2_stream.hpp"

namespace pywebd {
namespace {

// Enough for a batch of small responses to fill a 16 KiB TLS record, or one writev.
constexpr std::size_t kMaxIov = 64;

}  // namespace

void OutputQueue::push(const Chunk& chunk) {
    if (chunk.length == 0) return;
    if (chunk.stream) ++chunk.stream->queued;
    bytes_ += chunk.length;
    chunks_.push_back(chunk);
}

void OutputQueue::copy(const void* data, std::size_t length, H2Stream* stream, bool body) {
    if (length == 0) return;
    // Consecutive copies of the same owner are one chunk: fewer iovecs, fewer entries.
    if (!chunks_.empty()) {
        Chunk& last = chunks_.back();
        if (last.data == nullptr && last.fd < 0 && last.stream == stream && last.body == body &&
            last.offset + last.length == store_.size()) {
            store_.append(static_cast<const char*>(data), length);
            last.length += length;
            bytes_ += length;
            return;
        }
    }
    const std::uint64_t at = store_.size();
    store_.append(static_cast<const char*>(data), length);
    push({nullptr, at, length, -1, body, stream});
}

void OutputQueue::memory(const char* data, std::size_t length, H2Stream* stream) {
    push({data, 0, length, -1, true, stream});
}

void OutputQueue::file(int fd, std::uint64_t offset, std::size_t length, H2Stream* stream) {
    push({nullptr, offset, length, fd, true, stream});
}

void OutputQueue::clear() {
    for (const Chunk& chunk : chunks_)
        if (chunk.stream) --chunk.stream->queued;
    chunks_.clear();
    store_.clear();
    bytes_ = 0;
}

// The memory chunks at the front as iovecs; `more`: a file range follows them.
std::size_t OutputQueue::gather(iovec* iov, std::size_t max, bool& more) const {
    std::size_t n = 0;
    more = false;
    for (const Chunk& chunk : chunks_) {
        if (chunk.fd >= 0) {
            more = true;
            break;
        }
        if (n == max) break;
        const char* at = chunk.data != nullptr ? chunk.data : store_.data() + chunk.offset;
        iov[n++] = {const_cast<char*>(at), static_cast<std::size_t>(chunk.length)};
    }
    return n;
}

void OutputQueue::advance(std::size_t n) {
    bytes_ -= n;
    while (n > 0) {
        Chunk& front = chunks_.front();
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(n, front.length));
        if (front.body && front.stream) front.stream->body_sent += take;
        front.length -= take;
        if (front.data != nullptr)
            front.data += take;
        else
            front.offset += take;
        n -= take;
        if (front.length > 0) break;
        if (front.stream) --front.stream->queued;
        chunks_.pop_front();
    }
    if (chunks_.empty()) store_.clear();  // copies are only appended: free them when all went
}

IoResult OutputQueue::flush(Transport& transport, std::size_t& budget) {
    while (!chunks_.empty() && budget > 0) {
        IoResult r;
        const Chunk& front = chunks_.front();
        if (front.fd >= 0) {
            r = transport.send_file(front.fd, front.offset, static_cast<std::size_t>(front.length));
            if (r.status == Io::Done && r.bytes == 0) return {Io::Failed, 0, 0};  // the file ended early
        } else {
            iovec iov[kMaxIov];
            bool more = false;
            const std::size_t count = gather(iov, kMaxIov, more);
            if (more && count < chunks_.size()) {  // a file range follows: with it where the transport can
                const Chunk& range = chunks_[count];
                r = transport.write_then_file({iov, count}, range.fd, range.offset,
                                              static_cast<std::size_t>(range.length));
                if (r.status == Io::Done && r.bytes == 0) return {Io::Failed, 0, 0};  // the file ended early
            } else {
                r = transport.write({iov, count}, more);
            }
        }
        if (r.status != Io::Done) return r;
        advance(r.bytes);
        budget -= std::min(budget, r.bytes);
    }
    return {Io::Done, 0, 0};
}

}  // namespace pywebd
