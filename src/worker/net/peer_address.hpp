#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace pywebd {

// A client's IP address in 17 bytes (no port), kept per connection for the access log.
struct PeerAddress {
    std::array<std::uint8_t, 16> bytes{};
    std::uint8_t family = AF_UNSPEC;

    static PeerAddress from(const sockaddr_storage& address);
    // Writes the printable form into `out` (INET6_ADDRSTRLEN bytes) and returns it.
    std::string_view format(char* out) const;
};

}  // namespace pywebd
