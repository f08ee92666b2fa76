// The floor: the least a server can do per keep-alive request. N forked workers share
// one listening socket (EPOLLEXCLUSIVE); each request costs one read and one write of
// a fixed 1 KiB response. No parsing, no files. Every pywebd figure is read against it.
//   floor PORT WORKERS
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

std::string response() {
    const std::string body(1024, 'x');
    return "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

[[noreturn]] void serve(int listener) {
    const std::string answer = response();
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = listener;
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    std::vector<epoll_event> events(256);
    char buffer[16384];
    for (;;) {
        const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
        for (int i = 0; i < n; ++i) {
            const int fd = events[static_cast<std::size_t>(i)].data.fd;
            if (fd == listener) {
                for (;;) {
                    const int c = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) break;
                    const int on = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                    epoll_event cev{};
                    cev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
                    cev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            // One read; one write per request found in it (wrk sends one at a time).
            const ssize_t got = read(fd, buffer, sizeof buffer);
            if (got <= 0) {
                close(fd);
                continue;
            }
            int requests = 0;
            for (ssize_t j = 3; j < got; ++j)
                if (buffer[j] == '\n' && buffer[j - 1] == '\r' && buffer[j - 2] == '\n' && buffer[j - 3] == '\r')
                    ++requests;
            for (int r = 0; r < requests; ++r)
                if (write(fd, answer.data(), answer.size()) < 0) break;
            if (std::strstr(buffer, "Connection: close") != nullptr) close(fd);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: floor PORT WORKERS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || listen(listener, 511) != 0) {
        std::perror("floor: bind");
        return 1;
    }
    const int workers = std::atoi(argv[2]);
    for (int w = 0; w < workers; ++w)
        if (fork() == 0) serve(listener);
    while (wait(nullptr) > 0) {}
    return 0;
}
