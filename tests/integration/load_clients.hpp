#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http_client.hpp"

namespace pywebd::test {

// A bounded client load on loopback: keep-alive clients (reconnecting when the server
// says "Connection: close") and connection-per-request clients, all fetching `target`
// and checking every response against the bodies it may legitimately have; over TLS
// when given a ClientTls (each per-request client then makes a full handshake).
class LoadClients {
public:
    LoadClients(std::uint16_t port, std::string target, std::vector<std::string> valid_bodies, int keep_alive,
                int per_request, int max_requests_each = 200000, std::optional<ClientTls> tls = std::nullopt);
    ~LoadClients();

    void stop();  // joins the threads
    std::uint64_t requests() const { return requests_; }
    std::uint64_t failures() const { return failures_; }
    std::vector<std::string> failure_samples() const;

private:
    void run_keep_alive();
    void run_per_request();
    bool valid(int status, const std::string& body) const;
    void fail(const std::string& what);
    HttpClient connect() const;

    std::uint16_t port_;
    std::string target_;
    std::vector<std::string> valid_bodies_;
    int max_requests_each_;
    std::optional<ClientTls> tls_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> requests_{0};
    std::atomic<std::uint64_t> failures_{0};
    mutable std::mutex mutex_;
    std::vector<std::string> samples_;
    std::vector<std::thread> threads_;
};

}  // namespace pywebd::test
