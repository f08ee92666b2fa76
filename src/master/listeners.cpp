#include "listeners.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace pywebd {
namespace {

std::string bind_failure(const ListenAddress& address, int error) {
    if (error == EADDRINUSE) return fmt::format("cannot listen on {}: address already in use", address.to_string());
    if (error == EACCES)
        return fmt::format(
            "cannot listen on {}: permission denied (ports below 1024 need root or "
            "CAP_NET_BIND_SERVICE)",
            address.to_string());
    return fmt::format("cannot listen on {}: {}", address.to_string(), std::strerror(error));
}

}  // namespace

ListenSocket bind_listener(const ListenAddress& address, int backlog) {
    sockaddr_storage storage{};
    const socklen_t length = to_sockaddr(address, storage);
    if (length == 0) throw BindError(fmt::format("cannot listen on {}: bad address", address.to_string()));
    UniqueFd fd(::socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw BindError(bind_failure(address, errno), errno);
    const int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (address.family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    // Hand a connection to a worker only once its first bytes have arrived: one wake-up
    // and one read per request instead of a wake-up for the handshake, and clients that
    // connect and send nothing never take a worker's slot.
    const int defer_seconds = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds, sizeof defer_seconds);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0 ||
        ::listen(fd.get(), backlog) != 0) {
        const int error = errno;
        throw BindError(bind_failure(address, error), error);
    }
    ListenSocket socket{std::move(fd), "", address, false};
    socket.name = local_name(socket.fd.get());
    return socket;
}

std::vector<ListenSocket> bind_all(const Config& config, Logger& log) {
    std::vector<ListenSocket> sockets;
    const bool implicit = config.listen.empty();
    for (const ListenAddress& address : config.effective_listen()) {
        try {
            sockets.push_back(bind_listener(address, config.backlog));
        } catch (const BindError& error) {
            if (implicit && address.family == AF_INET6 &&
                (error.error() == EAFNOSUPPORT || error.error() == EADDRNOTAVAIL)) {
                log.warn("no IPv6 on this host; serving IPv4 only ({})", error.what());
                continue;
            }
            throw;
        }
    }
    return sockets;
}

std::vector<ListenSocket> inherited_listeners() {
    std::vector<ListenSocket> sockets;
    const int count = ::sd_listen_fds(1);  // 1: unset LISTEN_* so workers don't see them
    if (count < 0) throw BindError(fmt::format("socket activation: {}", std::strerror(-count)));
    for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + count; ++fd) {
        UniqueFd owned(fd);
        if (::sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
            throw BindError(fmt::format("socket activation: fd {} is not a listening stream socket", fd));
        const int flags = ::fcntl(fd, F_GETFL);
        ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        ListenSocket socket{std::move(owned), "", {}, true};
        socket.name = local_name(fd);
        socket.address = local_address(fd);  // its port says which listen entry's role it takes
        sockets.push_back(std::move(socket));
    }
    return sockets;
}

ListenSocket adopt_listener(int fd, bool inherited, bool admin) {
    UniqueFd owned(fd);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (::sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
        throw BindError(fmt::format("upgrade: fd {} is not a listening stream socket", fd));
    ListenSocket socket{std::move(owned), local_name(fd), local_address(fd), inherited};
    socket.address.admin = admin;
    return socket;
}

ListenAddress local_address(int fd) {
    ListenAddress address;
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    char host[INET6_ADDRSTRLEN] = "";
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) == 0 &&
        (storage.ss_family == AF_INET || storage.ss_family == AF_INET6)) {
        address.family = storage.ss_family;
        const void* raw = storage.ss_family == AF_INET6
                              ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr)
                              : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr);
        ::inet_ntop(storage.ss_family, raw, host, sizeof host);
    }
    address.host = host;
    address.port = local_port(fd);
    address.has_port = true;
    return address;
}

std::uint16_t local_port(int fd) {
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return 0;
    if (storage.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    if (storage.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    return 0;
}

std::string local_name(int fd) {
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return fmt::format("fd {}", fd);
    char host[INET6_ADDRSTRLEN] = "?";
    if (storage.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
        ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        return fmt::format("{}:{}", host, ntohs(in->sin_port));
    }
    if (storage.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        return fmt::format("[{}]:{}", host, ntohs(in6->sin6_port));
    }
    if (storage.ss_family == AF_UNIX)
        return fmt::format("unix:{}", reinterpret_cast<const sockaddr_un*>(&storage)->sun_path);
    return fmt::format("fd {}", fd);
}

}  // namespace pywebd
