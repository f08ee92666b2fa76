#include "load_clients.hpp"

#include <memory>

#include "http_client.hpp"

namespace pywebd::test {

LoadClients::LoadClients(std::uint16_t port, std::string target, std::vector<std::string> valid_bodies, int keep_alive,
                         int per_request, int max_requests_each, std::optional<ClientTls> tls)
    : port_(port),
      target_(std::move(target)),
      valid_bodies_(std::move(valid_bodies)),
      max_requests_each_(max_requests_each),
      tls_(std::move(tls)) {
    for (int i = 0; i < keep_alive; ++i) threads_.emplace_back([this] { run_keep_alive(); });
    for (int i = 0; i < per_request; ++i) threads_.emplace_back([this] { run_per_request(); });
}

LoadClients::~LoadClients() { stop(); }

void LoadClients::stop() {
    stop_ = true;
    for (std::thread& t : threads_)
        if (t.joinable()) t.join();
}

bool LoadClients::valid(int status, const std::string& body) const {
    if (status != 200) return false;
    for (const std::string& b : valid_bodies_)
        if (body == b) return true;
    return false;
}

void LoadClients::fail(const std::string& what) {
    ++failures_;
    std::lock_guard lock(mutex_);
    if (samples_.size() < 10) samples_.push_back(what);
}

std::vector<std::string> LoadClients::failure_samples() const {
    std::lock_guard lock(mutex_);
    return samples_;
}

HttpClient LoadClients::connect() const { return tls_ ? HttpClient(port_, *tls_) : HttpClient(port_); }

void LoadClients::run_keep_alive() {
    std::unique_ptr<HttpClient> client;
    for (int i = 0; i < max_requests_each_ && !stop_; ++i) {
        if (!client) {
            client = std::make_unique<HttpClient>(connect());
            if (!client->connected()) {
                fail("keep-alive: connect failed " + client->tls_error());
                client.reset();
                continue;
            }
        }
        auto response = client->get(target_);
        ++requests_;
        if (!response) {
            fail("keep-alive: no complete response (request " + std::to_string(i) + ")");
            client.reset();
            continue;
        }
        if (!valid(response->status, response->body))
            fail("keep-alive: status " + std::to_string(response->status) + ", body of " +
                 std::to_string(response->body.size()) + " bytes");
        if (response->header("connection") == "close") client.reset();
    }
}

void LoadClients::run_per_request() {
    for (int i = 0; i < max_requests_each_ && !stop_; ++i) {
        HttpClient client = connect();
        ++requests_;
        if (!client.connected()) {
            fail("per-request: connect failed " + client.tls_error());
            continue;
        }
        auto response = client.get(target_, "Connection: close\r\n");
        if (!response)
            fail("per-request: no complete response");
        else if (!valid(response->status, response->body))
            fail("per-request: status " + std::to_string(response->status));
    }
}

}  // namespace pywebd::test
