#pragma once

// A scripted Transport for tests of the sessions and their parts: no socket, no epoll.

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "net/transport.hpp"

namespace pywebd::test {

// A transport whose every answer the test decides: what each read returns, how much
// each write takes (a fixed limit, or a script of one byte per call), WouldBlock before
// every other call, and what a WouldBlock waits for.
class FakeTransport final : public Transport {
public:
    std::deque<std::string> reads;       // what each read returns, in order; then WouldBlock
    bool eof_after_reads = false;        // then PeerClosed instead of WouldBlock
    std::size_t write_limit = SIZE_MAX;  // bytes taken per write or send_file call
    // When not empty, each write or send_file call takes its limit from the last byte:
    // below 32 WouldBlock, below 128 that many bytes, else everything.
    std::string write_script;
    bool block_every_other = false;  // WouldBlock before every call that would succeed
    bool drains = true;              // short_read_drains()
    Wait write_waits_for = Wait::Writable;
    Wait read_waits_for = Wait::Readable;
    std::vector<bool> more;  // the "more follows" flag of each successful write
    std::string sent;
    bool shut = false, closed = false;
    int calls = 0;

    IoResult read(std::span<char> into) override {
        if (should_block()) return blocked(read_waits_for);
        if (reads.empty()) return eof_after_reads ? IoResult{Io::PeerClosed, 0, 0} : blocked(Wait::Readable);
        std::string& next = reads.front();
        const std::size_t n = std::min(next.size(), into.size());
        next.copy(into.data(), n);
        next.erase(0, n);
        if (next.empty()) reads.pop_front();
        return {Io::Done, n, 0};
    }
    IoResult write(std::span<const iovec> segments, bool more_follows) override {
        const std::size_t limit = next_limit();
        if (should_block() || limit == 0) return blocked(write_waits_for);
        more.push_back(more_follows);
        std::size_t taken = 0;
        for (const iovec& v : segments) {
            const std::size_t n = std::min(v.iov_len, limit - taken);
            sent.append(static_cast<const char*>(v.iov_base), n);
            taken += n;
            if (taken == limit) break;
        }
        return {Io::Done, taken, 0};
    }
    IoResult send_file(int file, std::uint64_t offset, std::size_t count) override {
        const std::size_t limit = next_limit();
        if (should_block() || limit == 0) return blocked(write_waits_for);
        std::string chunk(std::min(count, limit), '\0');
        const ssize_t n = ::pread(file, chunk.data(), chunk.size(), static_cast<off_t>(offset));
        sent.append(chunk.data(), static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
        return {Io::Done, static_cast<std::size_t>(std::max<ssize_t>(n, 0)), 0};
    }
    bool shutdown_write() override { return shut = true; }
    Wait waiting_for() const override { return waiting_; }
    bool short_read_drains() const override { return drains; }
    void send_immediately() override {}
    void close() override { closed = true; }

private:
    bool should_block() { return block_every_other && (calls++ % 2 == 0); }
    std::size_t next_limit() {
        if (write_script.empty()) return write_limit;
        const auto byte = static_cast<unsigned char>(write_script.back());
        write_script.pop_back();
        return byte < 32 ? 0 : byte < 128 ? byte : SIZE_MAX;
    }
    IoResult blocked(Wait wait) {
        waiting_ = wait;
        return {Io::WouldBlock, 0, EAGAIN};
    }
    Wait waiting_ = Wait::Readable;
};

}  // namespace pywebd::test
