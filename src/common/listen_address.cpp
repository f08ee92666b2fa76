#include "listen_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace pywebd {
namespace {

std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

bool is_numeric_host(int family, const std::string& host) {
    unsigned char buffer[sizeof(in6_addr)];
    return ::inet_pton(family, host.c_str(), buffer) == 1;
}

}  // namespace

std::string ListenAddress::to_string() const {
    const std::string shown = family == AF_INET6 ? "[" + host + "]" : host;
    return has_port ? fmt::format("{}:{}", shown, port) : shown;
}

std::optional<ListenAddress> parse_listen_address(std::string_view text, std::string& error) {
    ListenAddress address;
    std::string_view port_text;
    if (text.empty()) {
        error = "empty listen address";
        return std::nullopt;
    }
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            error = fmt::format("'{}': missing ']' after the IPv6 address", text);
            return std::nullopt;
        }
        address.family = AF_INET6;
        address.host = std::string(text.substr(1, close - 1));
        const std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                error = fmt::format("'{}': expected ':PORT' after ']'", text);
                return std::nullopt;
            }
            port_text = rest.substr(1);
            address.has_port = true;
        }
    } else if (text.find_first_not_of("0123456789") == std::string_view::npos) {
        // A bare port means the IPv4 wildcard; the default listen list adds IPv6.
        address.host = "0.0.0.0";
        port_text = text;
        address.has_port = true;
    } else {
        const auto colon = text.rfind(':');
        if (colon != std::string_view::npos && text.find(':') != colon) {
            error = fmt::format("'{}': IPv6 addresses go in brackets, as [::1]:8080", text);
            return std::nullopt;
        }
        address.host = std::string(text.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = text.substr(colon + 1);
            address.has_port = true;
        }
        if (address.host == "*") address.host = "0.0.0.0";
    }
    if (address.has_port) {
        const auto port = parse_port(port_text);
        if (!port) {
            error = fmt::format("'{}': port must be a number from 0 to 65535", text);
            return std::nullopt;
        }
        address.port = *port;
    }
    if (!is_numeric_host(address.family, address.host)) {
        error = fmt::format("'{}': '{}' is not a numeric {} address", text, address.host,
                            address.family == AF_INET6 ? "IPv6" : "IPv4");
        return std::nullopt;
    }
    return address;
}

bool ListenAddress::same_endpoint(const ListenAddress& other) const {
    if (family != other.family || port != other.port) return false;
    sockaddr_storage a{}, b{};
    const socklen_t length = to_sockaddr(*this, a);
    if (length == 0 || to_sockaddr(other, b) != length) return host == other.host;
    return std::memcmp(&a, &b, length) == 0;
}

bool ListenAddress::is_loopback() const {
    sockaddr_storage storage{};
    if (to_sockaddr(*this, storage) == 0) return false;
    if (family == AF_INET6) return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr);
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr.s_addr) >> 24) == 127;
}

socklen_t to_sockaddr(const ListenAddress& address, sockaddr_storage& out) {
    std::memset(&out, 0, sizeof out);
    if (address.family == AF_INET6) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(address.port);
        if (::inet_pton(AF_INET6, address.host.c_str(), &sin6->sin6_addr) != 1) return 0;
        return sizeof(sockaddr_in6);
    }
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(address.port);
    if (::inet_pton(AF_INET, address.host.c_str(), &sin->sin_addr) != 1) return 0;
    return sizeof(sockaddr_in);
}

}  // namespace pywebd
