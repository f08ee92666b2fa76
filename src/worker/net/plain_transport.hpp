#pragma once

#include "net/transport.hpp"
#include "unique_fd.hpp"

namespace pywebd {

// A TCP (or, under socket activation, unix) socket: read, sendmsg with MSG_MORE, and
// sendfile straight from the file.
class PlainTransport final : public Transport {
public:
    // `tcp`: TCP_NODELAY applies (a unix socket has no Nagle to switch off).
    PlainTransport(UniqueFd fd, bool tcp) : fd_(std::move(fd)), nodelay_(!tcp) {}

    IoResult read(std::span<char> into) override;
    IoResult write(std::span<const iovec> segments, bool more) override;
    IoResult send_file(int file, std::uint64_t offset, std::size_t count) override;
    bool shutdown_write() override;
    Wait waiting_for() const override { return waiting_for_; }
    bool short_read_drains() const override { return true; }
    void send_immediately() override;
    void close() override { fd_.reset(); }
    void reset() override;
    int fd() const { return fd_.get(); }

private:
    IoResult failed(Wait wait);

    UniqueFd fd_;
    Wait waiting_for_ = Wait::Readable;
    bool nodelay_;  // TCP_NODELAY set (lazily: most short-lived connections never need it)
};

}  // namespace pywebd
