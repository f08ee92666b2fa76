#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "net/transport.hpp"

namespace pywebd {

struct H2Stream;

// What an HTTP/2 connection has to write, in order: bytes nghttp2 serialised (copied
// here), body bytes in memory (pointed to: the stream's response holds them), and body
// ranges of a file (sent with the transport's send_file, so plain h2c keeps sendfile).
// A chunk may belong to a stream: the stream counts its chunks still queued and the
// body bytes that went out, so one nghttp2 has closed lives on until its last chunk is
// written and is logged with what was actually sent.
class OutputQueue {
public:
    // `body`: counted as the stream's body bytes when written (a piece of a streamed body).
    void copy(const void* data, std::size_t length, H2Stream* stream = nullptr, bool body = false);
    void memory(const char* data, std::size_t length, H2Stream* stream);
    void file(int fd, std::uint64_t offset, std::size_t length, H2Stream* stream);

    bool empty() const { return chunks_.empty(); }
    std::uint64_t bytes() const { return bytes_; }

    // Writes what the transport takes, until the queue is empty or about `budget` bytes
    // (lowered by what went out) have gone. Returns the call that stopped it
    // (WouldBlock, PeerClosed, Failed), or Done. A file that ends early is Failed with
    // error 0.
    IoResult flush(Transport& transport, std::size_t& budget);

    // Forgets everything queued (the connection is closing).
    void clear();

private:
    struct Chunk {
        const char* data;      // memory; null for a copy (at `offset` in store_) or a file range
        std::uint64_t offset;  // in store_ (a copy) or in the file
        std::uint64_t length;  // still to write
        int fd;                // a file range when >= 0
        bool body;             // body bytes (counted for the access log), not framing
        H2Stream* stream;
    };

    void push(const Chunk& chunk);
    void advance(std::size_t n);  // drops `n` written bytes from the front
    std::size_t gather(iovec* iov, std::size_t max, bool& more) const;

    std::deque<Chunk> chunks_;
    std::string store_;  // copies, referred to by offset so the string may grow
    std::uint64_t bytes_ = 0;
};

}  // namespace pywebd
