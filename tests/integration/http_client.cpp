#include "http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace pywebd::test {
namespace {

void free_openssl_string(char* text) { OPENSSL_free(text); }

}  // namespace

HttpClient::HttpClient(std::uint16_t port, const char* address, std::chrono::milliseconds timeout) {
    const bool v6 = std::strchr(address, ':') != nullptr;
    UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc;
    if (v6) {
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        sa.sin6_port = htons(port);
        ::inet_pton(AF_INET6, address, &sa.sin6_addr);
        rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    } else {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        ::inet_pton(AF_INET, address, &sa.sin_addr);
        rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    }
    if (rc == 0) fd_ = std::move(fd);
}

HttpClient::HttpClient(std::uint16_t port, const ClientTls& tls, std::chrono::milliseconds timeout)
    : HttpClient(port, "127.0.0.1", timeout) {
    if (fd_ && !handshake(tls)) fd_.reset();
}

HttpClient::~HttpClient() {
    if (!ssl_) return;
    SSL_set_quiet_shutdown(ssl_.get(), 1);
    SSL_shutdown(ssl_.get());
}

bool HttpClient::handshake(const ClientTls& tls) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_.get(), tls.ca_file.c_str(), nullptr) != 1) {
        tls_error_ = "cannot load " + tls.ca_file.string() + ": " + openssl_errors();
        return false;
    }
    if (tls.max_version != 0) SSL_CTX_set_max_proto_version(ctx_.get(), tls.max_version);
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_.get());
    if (!tls.server_name.empty())  // SSL_set_tlsext_host_name, without the macro's C cast
        SSL_ctrl(ssl_.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(tls.server_name.c_str()));
    SSL_set1_host(ssl_.get(), tls.server_name.empty() ? "localhost" : tls.server_name.c_str());
    if (!tls.alpn.empty()) {
        std::string wire;  // length-prefixed protocol names
        for (std::size_t start = 0; start <= tls.alpn.size();) {
            const std::size_t end = std::min(tls.alpn.find(',', start), tls.alpn.size());
            wire.push_back(static_cast<char>(end - start));
            wire.append(tls.alpn, start, end - start);
            start = end + 1;
        }
        SSL_set_alpn_protos(ssl_.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size()));
    }
    if (tls.session != nullptr) SSL_set_session(ssl_.get(), tls.session);
    if (SSL_connect(ssl_.get()) == 1) return true;
    tls_error_ = "handshake: " + openssl_errors();
    return false;
}

bool HttpClient::resumed() const { return ssl_ && SSL_session_reused(ssl_.get()) == 1; }

std::string HttpClient::alpn() const {
    const unsigned char* data = nullptr;
    unsigned length = 0;
    if (ssl_) SSL_get0_alpn_selected(ssl_.get(), &data, &length);
    return data == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(data), length);
}

SslSessionPtr HttpClient::session() const { return SslSessionPtr(ssl_ ? SSL_get1_session(ssl_.get()) : nullptr); }

std::string HttpClient::peer_subject() const {
    const X509Ptr cert(ssl_ ? SSL_get1_peer_certificate(ssl_.get()) : nullptr);
    if (!cert) return {};
    char name[256];
    X509_NAME_oneline(X509_get_subject_name(cert.get()), name, sizeof name);
    return name;
}

std::string HttpClient::peer_serial() const {
    const X509Ptr cert(ssl_ ? SSL_get1_peer_certificate(ssl_.get()) : nullptr);
    if (!cert) return {};
    const std::unique_ptr<BIGNUM, OpenSslFree<BN_free>> serial(
        ASN1_INTEGER_to_BN(X509_get_serialNumber(cert.get()), nullptr));
    const std::unique_ptr<char, OpenSslFree<free_openssl_string>> hex(BN_bn2hex(serial.get()));
    return hex ? std::string(hex.get()) : std::string();
}

bool HttpClient::send(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ssl_ ? SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size()))
                               : ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

bool HttpClient::receive(std::string& into) {
    char chunk[65536];
    const ssize_t n = ssl_ ? SSL_read(ssl_.get(), chunk, sizeof chunk) : ::recv(fd_.get(), chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    into.append(chunk, static_cast<std::size_t>(n));
    return true;
}

bool HttpClient::fill() { return receive(buffer_); }

std::optional<HttpResponse> HttpClient::read_response(bool head_request) {
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
        if (!fill()) return std::nullopt;
    HttpResponse response;
    const std::string head = buffer_.substr(0, end + 2);
    buffer_.erase(0, end + 4);
    std::size_t line_end = head.find("\r\n");
    response.status_line = head.substr(0, line_end);
    if (response.status_line.size() < 12) return std::nullopt;
    response.status = std::atoi(response.status_line.c_str() + 9);
    for (std::size_t start = line_end + 2; start < head.size(); start = line_end + 2) {
        line_end = head.find("\r\n", start);
        const std::string line = head.substr(start, line_end - start);
        const auto colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        response.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    const bool bodyless = head_request || response.status == 304 || response.status == 204;
    if (bodyless) return response;
    if (response.header("transfer-encoding") == "chunked") {
        if (response.has("content-length")) return std::nullopt;  // RFC 9112 §6.2: never both
        if (!read_chunked(response.body)) return std::nullopt;
    } else if (response.has("content-length")) {
        const std::size_t length = std::stoull(response.header("content-length"));
        while (buffer_.size() < length)
            if (!fill()) return std::nullopt;  // short body: the framing was broken
        response.body = buffer_.substr(0, length);
        buffer_.erase(0, length);
    } else {
        while (fill()) {}
        response.body = std::move(buffer_);
        buffer_.clear();
    }
    return response;
}

// A chunked body, strictly: hex sizes without extensions, each chunk's CRLF, the
// last-chunk and an empty trailer section.
bool HttpClient::read_chunked(std::string& body) {
    for (;;) {
        std::size_t line_end;
        while ((line_end = buffer_.find("\r\n")) == std::string::npos)
            if (!fill()) return false;
        const std::string size_text = buffer_.substr(0, line_end);
        if (size_text.empty() || size_text.size() > 16 ||
            size_text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
            return false;
        const std::size_t size = std::stoull(size_text, nullptr, 16);
        while (buffer_.size() < line_end + 2 + size + 2)
            if (!fill()) return false;
        if (buffer_.compare(line_end + 2 + size, 2, "\r\n") != 0) return false;
        body.append(buffer_, line_end + 2, size);
        buffer_.erase(0, line_end + 2 + size + 2);
        ++chunks_read_;
        if (size == 0) return true;  // the CRLF after it ended the (empty) trailer section
    }
}

std::string HttpClient::read_until_close() {
    while (fill()) {}
    return std::exchange(buffer_, {});
}

bool HttpClient::closed_by_server(std::chrono::milliseconds wait) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    if (ssl_) {  // a close_notify, or the bare end of the stream, after nothing more
        char c;
        const int n = SSL_read(ssl_.get(), &c, 1);
        if (n == 1) {
            buffer_.push_back(c);
            return false;
        }
        const int error = SSL_get_error(ssl_.get(), n);
        return error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && (errno == 0 || errno == ECONNRESET)) ||
               error == SSL_ERROR_SSL;
    }
    char c;
    const ssize_t n = ::recv(fd_.get(), &c, 1, MSG_PEEK);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

std::optional<HttpResponse> HttpClient::get(const std::string& target, const std::string& extra_fields) {
    if (!send("GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra_fields + "\r\n")) return std::nullopt;
    return read_response();
}

std::optional<HttpResponse> http_get(std::uint16_t port, const std::string& target, const std::string& extra_fields) {
    HttpClient client(port);
    if (!client.connected()) return std::nullopt;
    return client.get(target, "Connection: close\r\n" + extra_fields);
}

}  // namespace pywebd::test
