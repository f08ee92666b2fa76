#include "net/io.hpp"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace pywebd {
namespace {

IoResult failure(int error) {
    if (error == EAGAIN || error == EWOULDBLOCK) return {Io::WouldBlock, 0, error};
    if (error == ECONNRESET || error == EPIPE) return {Io::PeerClosed, 0, error};
    return {Io::Failed, 0, error};
}

}  // namespace

IoResult read_some(int fd, std::span<char> into) noexcept {
    for (;;) {
        const ssize_t n = ::read(fd, into.data(), into.size());
        if (n > 0) return {Io::Done, static_cast<std::size_t>(n), 0};
        if (n == 0) return {Io::PeerClosed, 0, 0};
        if (errno != EINTR) return failure(errno);
    }
}

IoResult send_some(int fd, std::span<const iovec> iov, bool more) noexcept {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov.data());
    msg.msg_iovlen = iov.size();
    const int flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0);
    for (;;) {
        const ssize_t n = ::sendmsg(fd, &msg, flags);
        if (n >= 0) return {Io::Done, static_cast<std::size_t>(n), 0};
        if (errno != EINTR) return failure(errno);
    }
}

IoResult send_file(int fd, int file, std::uint64_t offset, std::size_t count) noexcept {
    auto off = static_cast<off_t>(offset);
    for (;;) {
        const ssize_t n = ::sendfile(fd, file, &off, count);
        if (n >= 0) return {Io::Done, static_cast<std::size_t>(n), 0};
        if (errno != EINTR) return failure(errno);
    }
}

}  // namespace pywebd
