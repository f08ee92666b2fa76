// Opens N keep-alive connections to 127.0.0.1:PORT, sends one request on each, reads
// each whole response, then holds them all idle until SIGTERM or SIGINT. Prints
// "ready N" once every response has arrived (for measuring idle-connection memory).
// With "tls", each connection is a TLS one (handshakes one after another).
//   holder PORT N PATH [tls]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Conn {
    int fd = -1;
    std::string in;
    bool done = false;
};

bool response_complete(const std::string& in) {
    const auto end = in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    const auto cl = in.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return true;
    const std::size_t length = std::strtoul(in.c_str() + cl + 16, nullptr, 10);
    return in.size() >= end + 4 + length;
}

int wait_signal() {
    std::printf("ready\n");
    std::fflush(stdout);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    int signo = 0;
    sigwait(&set, &signo);
    return 0;
}

// TLS: blocking connections, one at a time; the SSL objects are kept with them.
int hold_tls(const sockaddr_in& address, int count, const std::string& request) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    std::vector<SSL*> held;
    char buffer[65536];
    for (int i = 0; i < count; ++i) {
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
            std::fprintf(stderr, "holder: connection %d: %s\n", i, std::strerror(errno));
            return 1;
        }
        SSL* ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        SSL_set_tlsext_host_name(ssl, "localhost");
        if (SSL_connect(ssl) != 1 || SSL_write(ssl, request.data(), static_cast<int>(request.size())) <= 0) {
            std::fprintf(stderr, "holder: TLS connection %d failed\n", i);
            return 1;
        }
        std::string in;
        while (!response_complete(in)) {
            const int got = SSL_read(ssl, buffer, sizeof buffer);
            if (got <= 0) {
                std::fprintf(stderr, "holder: TLS connection %d closed early\n", i);
                return 1;
            }
            in.append(buffer, static_cast<std::size_t>(got));
        }
        held.push_back(ssl);
    }
    return wait_signal();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4 && argc != 5) {
        std::fprintf(stderr, "usage: holder PORT N PATH [tls]\n");
        return 2;
    }
    const int port = std::atoi(argv[1]);
    const int count = std::atoi(argv[2]);
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    const std::string request = std::string("GET ") + argv[3] + " HTTP/1.1\r\nHost: bench\r\n\r\n";
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (argc == 5) return hold_tls(address, count, request);
    const int ep = epoll_create1(0);
    std::vector<Conn> conns(static_cast<std::size_t>(count));
    int pending = 0;
    for (int i = 0; i < count; ++i) {
        Conn& c = conns[static_cast<std::size_t>(i)];
        c.fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c.fd < 0 || connect(c.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            std::fprintf(stderr, "holder: connection %d: %s\n", i, std::strerror(errno));
            return 1;
        }
        if (write(c.fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) return 1;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = static_cast<uint32_t>(i);
        epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
        ++pending;
    }
    std::vector<epoll_event> events(1024);
    char buffer[65536];
    while (pending > 0) {
        const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10000);
        if (n <= 0) {
            std::fprintf(stderr, "holder: %d responses missing\n", pending);
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            Conn& c = conns[events[static_cast<std::size_t>(i)].data.u32];
            const ssize_t got = read(c.fd, buffer, sizeof buffer);
            if (got <= 0) {
                std::fprintf(stderr, "holder: a connection closed early\n");
                return 1;
            }
            c.in.append(buffer, static_cast<std::size_t>(got));
            if (!c.done && response_complete(c.in)) {
                c.done = true;
                c.in.clear();
                c.in.shrink_to_fit();
                epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
                --pending;
            }
        }
    }
    return wait_signal();
}
