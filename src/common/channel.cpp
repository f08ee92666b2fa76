#include "channel.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace pywebd {

Channel open_channel() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
        return Channel{UniqueFd(), UniqueFd(), errno};
    return Channel{UniqueFd(fds[0]), UniqueFd(fds[1]), 0};
}

bool send_message(int socket, ChannelMessage message, int fd, std::span<const unsigned char> payload) {
    if (payload.size() > kMaxPayload) return false;
    auto byte = static_cast<std::uint8_t>(message);
    iovec iov[2] = {{&byte, 1}, {const_cast<unsigned char*>(payload.data()), payload.size()}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = payload.empty() ? 1 : 2;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd >= 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    }
    ssize_t n;
    do n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(1 + payload.size());
}

std::optional<Received> receive_message(int socket, bool& closed) {
    closed = false;
    std::uint8_t byte = 0;
    Received received{};
    iovec iov[2] = {{&byte, 1}, {received.payload_bytes.data(), received.payload_bytes.size()}};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        return std::nullopt;
    }
    received.message = static_cast<ChannelMessage>(byte);
    // A truncated message (larger than any we send) is read as having no payload, which
    // every receiver treats as malformed.
    received.payload_size = (msg.msg_flags & MSG_TRUNC) != 0 ? 0 : static_cast<std::size_t>(n) - 1;
    for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
            int fd = -1;
            std::memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
            received.fd.reset(fd);
        }
    }
    return received;
}

}  // namespace pywebd
