#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "openssl_ptr.hpp"
#include "unique_fd.hpp"

namespace pywebd::test {

struct HttpResponse {
    int status = 0;
    std::string status_line;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;

    std::string header(const std::string& name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
    bool has(const std::string& name) const { return headers.contains(name); }
};

// One request as a test writes it, whatever the protocol: `fields` are HTTP/1.1
// field lines ("Name: value\r\n" …), which HTTP/2 sends lower-cased (without the
// connection-specific ones, which RFC 9113 §8.2.2 forbids there).
struct Request {
    std::string method = "GET";
    std::string target;
    std::string fields;
    std::string body;
    std::string authority = "test";  // Host over HTTP/1.1, :authority over HTTP/2
};

// How a client speaks TLS: the CA it trusts, the name it asks for and verifies, what
// it offers by ALPN, a session to resume, the newest version it may use.
struct ClientTls {
    std::filesystem::path ca_file;
    std::string server_name = "localhost";  // sent as SNI and verified; empty: no SNI (still verifies "localhost")
    std::string alpn;                       // comma-separated protocols to offer; empty: no ALPN
    SSL_SESSION* session = nullptr;         // resume this one
    int max_version = 0;                    // e.g. TLS1_2_VERSION; 0: the newest
};

// A blocking HTTP/1.1 client on one TCP connection to loopback, with receive timeouts,
// that reads responses framed exactly by Content-Length (or by close, if none) — in
// plain text, or over TLS when given a ClientTls (the handshake happens in the
// constructor; connected() says whether it succeeded).
class HttpClient {
public:
    explicit HttpClient(std::uint16_t port, const char* address = "127.0.0.1",
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
    HttpClient(std::uint16_t port, const ClientTls& tls, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    HttpClient(HttpClient&&) = default;
    HttpClient& operator=(HttpClient&&) = default;
    // Ends a TLS connection as finished (without sending close_notify: the server may be
    // gone), so OpenSSL keeps its session resumable.
    ~HttpClient();

    bool connected() const { return fd_.valid(); }
    int fd() const { return fd_.get(); }
    // TLS facts of the connection (empty / false over plain text).
    SSL* ssl() const { return ssl_.get(); }
    bool resumed() const;
    std::string alpn() const;
    SslSessionPtr session() const;     // to resume later (after a response: TLS 1.3 sends tickets then)
    std::string peer_subject() const;  // the server certificate's subject, "/CN=localhost"
    std::string peer_serial() const;   // and its serial number in hex (empty without one)
    std::string tls_error() const { return tls_error_; }
    bool send(std::string_view bytes);
    // Appends what one read returns to `into` (raw bytes, for a client of another
    // protocol on this connection); false on EOF, error or timeout.
    bool receive(std::string& into);
    // Reads one response; `head_request` means no body follows whatever the fields say.
    // A chunked body is decoded (and counted in chunks_read()).
    std::optional<HttpResponse> read_response(bool head_request = false);
    std::size_t chunks_read() const { return chunks_read_; }
    // Everything until the server closes (or the timeout).
    std::string read_until_close();
    // True if the server has closed its side (a read returns 0 within `wait`).
    bool closed_by_server(std::chrono::milliseconds wait = std::chrono::milliseconds(2000));
    std::string leftover() const { return buffer_; }

    // One request on this connection, keep-alive.
    std::optional<HttpResponse> get(const std::string& target, const std::string& extra_fields = "");

private:
    bool read_chunked(std::string& body);
    bool fill();  // reads more into buffer_; false on EOF, error or timeout
    bool handshake(const ClientTls& tls);

    UniqueFd fd_;
    SslCtxPtr ctx_;
    SslPtr ssl_;
    std::string tls_error_;
    std::string buffer_;
    std::size_t chunks_read_ = 0;
};

// One GET on a fresh connection with "Connection: close".
std::optional<HttpResponse> http_get(std::uint16_t port, const std::string& target,
                                     const std::string& extra_fields = "");

}  // namespace pywebd::test
