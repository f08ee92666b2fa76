#pragma once

#include <memory>
#include <optional>
#include <string>

#include "h2_client.hpp"
#include "http_client.hpp"
#include "server_process.hpp"

namespace pywebd::test {

// One connection to a test server in the protocol a typed suite runs over — HTTP/1.1
// (plain or TLS, as the server's first listener is) or HTTP/2 (h2 by ALPN on TLS, h2c
// with prior knowledge on plain text) — so one test body checks the same semantics
// over each. Requests on it are sent one after another on the same connection.
class Conversation {
public:
    Conversation(const ServerProcess& server, bool h2);

    bool connected() const { return h2_ ? h2_->connected() : h1_->connected(); }
    // What the connection really speaks: "HTTP/1.1", "h2" (TLS) or "h2c".
    std::string protocol() const;
    std::optional<HttpResponse> request(const Request& request);
    std::optional<HttpResponse> get(const std::string& target, const std::string& fields = "") {
        return request({.target = target, .fields = fields});
    }

private:
    std::optional<HttpClient> h1_;  // one of the two
    std::unique_ptr<H2Client> h2_;
};

// One request on a fresh connection (HTTP/1.1 adds "Connection: close").
std::optional<HttpResponse> fetch(const ServerProcess& server, bool h2, Request request);

}  // namespace pywebd::test
