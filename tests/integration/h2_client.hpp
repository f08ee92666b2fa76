#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http_client.hpp"

namespace pywebd::test {

// A blocking HTTP/2 client on one connection to loopback, built on libnghttp2's client
// session: over TLS with ALPN "h2" when given a ClientTls, else h2c with prior
// knowledge. Each request is one stream; `exchange` sends several at once and waits for
// them all. A stream the server resets yields nullopt and its error code in reset_code().
class H2Client {
public:
    explicit H2Client(std::uint16_t port, const std::optional<ClientTls>& tls = std::nullopt);
    ~H2Client();
    H2Client(const H2Client&) = delete;
    H2Client& operator=(const H2Client&) = delete;

    // True once the server's SETTINGS arrived (and, over TLS, ALPN chose h2).
    bool connected() const { return connected_; }
    bool over_tls() const { return tls_; }
    std::optional<HttpResponse> request(const Request& request);
    std::vector<std::optional<HttpResponse>> exchange(const std::vector<Request>& requests);
    std::uint32_t reset_code() const { return reset_code_; }
    // The GOAWAY the server sent, if any (its error code).
    std::optional<std::uint32_t> goaway() const { return goaway_; }
    // Reads until the server's GOAWAY arrives or the connection ends; true if it came.
    bool wait_for_goaway(std::chrono::milliseconds bound);

    struct Stream;  // one request in flight: what it sends, what came back

private:
    bool pump();  // sends what the session wants to send, reads once; false when the connection ended
    bool flush();

    static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
                         const std::uint8_t* value, std::size_t valuelen, std::uint8_t flags, void* self);
    static int on_data(nghttp2_session*, std::uint8_t flags, std::int32_t stream_id, const std::uint8_t* data,
                       std::size_t len, void* self);
    static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* self);
    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self);

    HttpClient connection_;
    bool tls_ = false;
    bool connected_ = false;
    std::unique_ptr<nghttp2_session, void (*)(nghttp2_session*)> session_{nullptr, nghttp2_session_del};
    std::map<std::int32_t, Stream*> streams_;
    std::uint32_t reset_code_ = 0;
    std::optional<std::uint32_t> goaway_;
};

}  // namespace pywebd::test
