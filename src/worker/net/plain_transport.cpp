#include "net/plain_transport.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace pywebd {

IoResult PlainTransport::failed(Wait wait) {
    const int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK) {
        waiting_for_ = wait;
        return {Io::WouldBlock, 0, error};
    }
    if (error == ECONNRESET || error == EPIPE) return {Io::PeerClosed, 0, error};
    return {Io::Failed, 0, error};
}

IoResult PlainTransport::read(std::span<char> into) {
    for (;;) {
        const ssize_t n = ::read(fd_.get(), into.data(), into.size());
        if (n > 0) return {Io::Done, static_cast<std::size_t>(n), 0};
        if (n == 0) return {Io::PeerClosed, 0, 0};
        if (errno != EINTR) return failed(Wait::Readable);
    }
}

IoResult PlainTransport::write(std::span<const iovec> segments, bool more) {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(segments.data());
    msg.msg_iovlen = segments.size();
    const int flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0);
    for (;;) {
        const ssize_t n = ::sendmsg(fd_.get(), &msg, flags);
        if (n >= 0) return {Io::Done, static_cast<std::size_t>(n), 0};
        if (errno != EINTR) return failed(Wait::Writable);
    }
}

IoResult PlainTransport::send_file(int file, std::uint64_t offset, std::size_t count) {
    auto off = static_cast<off_t>(offset);
    for (;;) {
        const ssize_t n = ::sendfile(fd_.get(), file, &off, count);
        if (n >= 0) return {Io::Done, static_cast<std::size_t>(n), 0};
        if (errno != EINTR) return failed(Wait::Writable);
    }
}

IoResult Transport::write_then_file(std::span<const iovec> head, int file, std::uint64_t offset, std::size_t count) {
    std::size_t head_length = 0;
    for (const iovec& segment : head) head_length += segment.iov_len;
    const IoResult written = write(head, true);
    if (written.status != Io::Done || written.bytes < head_length) return written;
    const IoResult sent = send_file(file, offset, count);
    if (sent.status == Io::Done && sent.bytes == 0) return sent;  // the file ended early
    // The head went: that is progress, whatever the range did (it is tried again).
    return {Io::Done, written.bytes + (sent.status == Io::Done ? sent.bytes : 0), 0};
}

void PlainTransport::reset() {
    const linger abort{1, 0};  // close() then sends RST rather than FIN
    if (fd_) ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    fd_.reset();
}

bool PlainTransport::shutdown_write() { return ::shutdown(fd_.get(), SHUT_WR) == 0; }

// Nagle would hold back the last short segment of a response while earlier ones are
// unacknowledged: needed once a connection is kept alive (responses follow each other)
// or a response takes several writes. A one-write response on a closing connection
// does not need it, which saves a syscall per such connection.
void PlainTransport::send_immediately() {
    if (nodelay_) return;
    nodelay_ = true;
    const int on = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

}  // namespace pywebd
