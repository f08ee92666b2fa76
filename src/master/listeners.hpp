#pragma once

#include <string>
#include <vector>

#include "config.hpp"
#include "log.hpp"
#include "unique_fd.hpp"

namespace pywebd {

struct ListenSocket {
    UniqueFd fd;
    std::string name;       // "0.0.0.0:8888", or "systemd fd 3"
    ListenAddress address;  // what was bound (for inherited sockets: what getsockname says)
    bool inherited = false;
};

// Thrown when a listen address cannot be bound; the message names it and the reason.
class BindError : public std::runtime_error {
public:
    explicit BindError(const std::string& message, int error = 0) : std::runtime_error(message), error_(error) {}
    int error() const { return error_; }

private:
    int error_;
};

// Binds one address: SO_REUSEADDR, IPV6_V6ONLY for IPv6 (so [::] and 0.0.0.0 can share
// a port), non-blocking, close-on-exec, listen(backlog). Throws BindError.
ListenSocket bind_listener(const ListenAddress& address, int backlog);

// Binds every address the config lists. The implicit default includes [::]; if the host
// has no IPv6 at all that one is skipped with a warning. Throws BindError.
std::vector<ListenSocket> bind_all(const Config& config, Logger& log);

// Sockets passed by systemd socket activation (LISTEN_FDS/LISTEN_PID), made
// non-blocking. Empty when none were passed. Throws BindError if one is not a
// listening stream socket.
std::vector<ListenSocket> inherited_listeners();

// A listening socket handed over by the master image before an in-place upgrade: its
// address read back with getsockname. Throws BindError if it is not a listening TCP socket.
ListenSocket adopt_listener(int fd, bool inherited, bool admin);

// The numeric address a socket is bound to, from getsockname (an empty host for a unix one).
ListenAddress local_address(int fd);

// "127.0.0.1:8080" for a bound socket, from getsockname.
std::string local_name(int fd);
// Its TCP port (0 for a unix socket).
std::uint16_t local_port(int fd);

}  // namespace pywebd
