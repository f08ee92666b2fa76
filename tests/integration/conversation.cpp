#include "conversation.hpp"

namespace pywebd::test {

Conversation::Conversation(const ServerProcess& server, bool h2) {
    if (!h2)
        h1_.emplace(server.connect());
    else if (server.tls())
        h2_ = std::make_unique<H2Client>(server.port(), server.client_tls());
    else
        h2_ = std::make_unique<H2Client>(server.port());
}

std::string Conversation::protocol() const {
    if (h2_) return h2_->over_tls() ? "h2" : "h2c";
    return "HTTP/1.1";
}

std::optional<HttpResponse> Conversation::request(const Request& request) {
    if (h2_) return h2_->request(request);
    std::string head =
        request.method + " " + request.target + " HTTP/1.1\r\nHost: " + request.authority + "\r\n" + request.fields;
    if (!request.body.empty()) head += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
    if (!h1_->send(head + "\r\n" + request.body)) return std::nullopt;
    return h1_->read_response(request.method == "HEAD");
}

std::optional<HttpResponse> fetch(const ServerProcess& server, bool h2, Request request) {
    if (!h2) request.fields = "Connection: close\r\n" + request.fields;
    Conversation conversation(server, h2);
    if (!conversation.connected()) return std::nullopt;
    return conversation.request(request);
}

}  // namespace pywebd::test
