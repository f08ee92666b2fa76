#include "net/peer_address.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace pywebd {

PeerAddress PeerAddress::from(const sockaddr_storage& address) {
    PeerAddress peer;
    if (address.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
        std::memcpy(peer.bytes.data(), &in->sin_addr, 4);
        peer.family = AF_INET;
    } else if (address.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            // A dual-stack socket (pywebd.socket) sees IPv4 clients as ::ffff:a.b.c.d;
            // logs show them as the IPv4 addresses they are.
            std::memcpy(peer.bytes.data(), in6->sin6_addr.s6_addr + 12, 4);
            peer.family = AF_INET;
        } else {
            std::memcpy(peer.bytes.data(), &in6->sin6_addr, 16);
            peer.family = AF_INET6;
        }
    }
    return peer;
}

std::string_view PeerAddress::format(char* out) const {
    if (family == AF_UNSPEC || ::inet_ntop(family, bytes.data(), out, INET6_ADDRSTRLEN) == nullptr) return "-";
    return out;
}

}  // namespace pywebd
