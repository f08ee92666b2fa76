#include "h1/request_buffers.hpp"

#include <cstring>

namespace pywebd {

void RequestBuffers::drop_front(std::size_t n) {
    std::memmove(input.get(), input.get() + n, length - n);
    length -= n;
}

std::unique_ptr<RequestBuffers> BufferPool::acquire() {
    if (free_.empty()) return std::make_unique<RequestBuffers>(size_, max_headers_);
    auto buffers = std::move(free_.back());
    free_.pop_back();
    return buffers;
}

void BufferPool::release(std::unique_ptr<RequestBuffers> buffers) {
    if (!buffers) return;
    buffers->length = 0;
    buffers->consumed = 0;
    buffers->scanner.reset();
    buffers->response.clear();
    buffers->request_line = buffers->referer = buffers->user_agent = {};
    buffers->head_offset = buffers->segment_offset = buffers->body_sent = buffers->discard = 0;
    buffers->segment = 0;
    buffers->responding = buffers->client_closes = buffers->close = buffers->chunked_body = false;
    buffers->chunked = {};
    if (free_.size() < keep_) free_.push_back(std::move(buffers));
}

}  // namespace pywebd
