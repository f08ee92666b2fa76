#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pywebd {

// A numeric listen address: "0.0.0.0", "127.0.0.1:8080", "[::]", "[::1]:80", "*:80",
// or a bare port "8080". Host names are refused on purpose: a server must not depend
// on DNS to start.
struct ListenAddress {
    int family = AF_INET;  // AF_INET or AF_INET6
    std::string host;      // numeric, without brackets
    std::uint16_t port = 0;
    bool has_port = false;
    // What connections accepted here get (a `listen` entry written as a mapping).
    bool tls = false;                // HTTPS
    bool redirect_to_https = false;  // plain HTTP answered with 308 to https://host[:https_port]/…
    bool h2 = true;                  // TLS: HTTP/2 offered by ALPN
    bool h2c = false;                // plain: HTTP/2 with prior knowledge (for a proxy in front)
    std::uint16_t https_port = 443;
    bool admin = false;  // the admin listener: /metrics and /healthz, nothing else

    std::string to_string() const;  // "127.0.0.1:80", "[::1]:80"
    bool is_loopback() const;       // 127.0.0.0/8 or ::1
    // The same socket address, whatever its connections get ("::1" and "0::1" alike).
    bool same_endpoint(const ListenAddress& other) const;
    bool operator==(const ListenAddress&) const = default;
};

// Parses one entry; on failure returns nullopt and sets `error`.
std::optional<ListenAddress> parse_listen_address(std::string_view text, std::string& error);

// Fills a sockaddr for bind(); returns its length, 0 if the host does not parse.
socklen_t to_sockaddr(const ListenAddress& address, sockaddr_storage& out);

}  // namespace pywebd
