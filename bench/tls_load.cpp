// A TLS load for handshake-bound scenarios: CONCURRENCY connections to 127.0.0.1:PORT,
// each doing handshake, one GET with "Connection: close", the whole response, close,
// and again, for SECONDS. MODE "full" makes every handshake a full one; "resume" offers
// one session (taken from a first connection) on every connection, so each handshake is
// a resumption. The certificate is not verified: the client's cost is not what is
// measured. Prints "requests N errors E resumed R".
//   tls_load PORT CONCURRENCY SECONDS PATH full|resume [tls1.2]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

template <auto Free>
struct Deleter {
    template <typename T>
    void operator()(T* p) const {
        Free(p);
    }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;
using SessionPtr = std::unique_ptr<SSL_SESSION, Deleter<SSL_SESSION_free>>;

bool response_complete(const std::string& in) {
    const auto end = in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    const auto cl = in.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return true;
    return in.size() >= end + 4 + std::strtoul(in.c_str() + cl + 16, nullptr, 10);
}

int connect_to(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);  // EINPROGRESS: the handshake waits for it
    return fd;
}

struct Connection {
    int fd = -1;
    SslPtr ssl;
    std::string in;
    bool sent = false;
};

class Load {
public:
    Load(int port, std::string path, SSL_CTX* ctx, SSL_SESSION* session)
        : port_(port),
          request_("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
          ctx_(ctx),
          session_(session),
          epoll_(::epoll_create1(EPOLL_CLOEXEC)) {}

    void start(Connection& c) {
        c.fd = connect_to(port_);
        c.ssl.reset(SSL_new(ctx_));
        SSL_set_fd(c.ssl.get(), c.fd);
        SSL_set_tlsext_host_name(c.ssl.get(), "localhost");
        if (session_) {
            // A copy each time: OpenSSL marks the session a TLS 1.3 connection resumed
            // as used up once a new ticket arrives.
            const SessionPtr copy(SSL_SESSION_dup(session_));
            SSL_set_session(c.ssl.get(), copy.get());
        }
        SSL_set_connect_state(c.ssl.get());
        c.in.clear();
        c.sent = false;
        epoll_event ev{EPOLLOUT | EPOLLIN, {.ptr = &c}};
        ::epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
    }

    void finish(Connection& c, bool ok) {
        if (ok) {
            ++requests;
            if (SSL_session_reused(c.ssl.get())) ++resumed;
        } else {
            ++errors;
        }
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
        // Marked finished without a close_notify on the wire (as wrk and browsers close):
        // an SSL freed unfinished would make OpenSSL drop its session from resumption.
        SSL_set_quiet_shutdown(c.ssl.get(), 1);
        SSL_shutdown(c.ssl.get());
        c.ssl.reset();
        ::close(c.fd);
        ERR_clear_error();
        if (!stopping) start(c);
    }

    // Drives one connection as far as it goes; returns the events it waits for.
    void drive(Connection& c) {
        char buffer[16384];
        for (;;) {
            int n;
            if (!c.sent) {
                n = SSL_write(c.ssl.get(), request_.data(), static_cast<int>(request_.size()));
                if (n > 0) {
                    c.sent = true;
                    continue;
                }
            } else {
                n = SSL_read(c.ssl.get(), buffer, sizeof buffer);
                if (n > 0) {
                    c.in.append(buffer, static_cast<std::size_t>(n));
                    if (response_complete(c.in)) return finish(c, c.in.compare(0, 12, "HTTP/1.1 200") == 0);
                    continue;
                }
            }
            const int error = SSL_get_error(c.ssl.get(), n);
            if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
                epoll_event ev{static_cast<std::uint32_t>(error == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT),
                               {.ptr = &c}};
                ::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
                return;
            }
            if (errors == 0 && std::getenv("TLS_LOAD_DEBUG")) {
                std::fprintf(stderr, "tls_load: ssl error %d errno %d\n", error, errno);
                ERR_print_errors_fp(stderr);
            }
            return finish(c, false);
        }
    }

    // Until `seconds` have passed, or `max_requests` are done.
    void run(int concurrency, double seconds, long max_requests = -1) {
        std::vector<Connection> connections(static_cast<std::size_t>(concurrency));
        for (Connection& c : connections) start(c);
        const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        epoll_event events[256];
        while (std::chrono::steady_clock::now() < end && (max_requests < 0 || requests + errors < max_requests)) {
            stopping = max_requests >= 0;
            const int n = ::epoll_wait(epoll_, events, 256, 100);
            for (int i = 0; i < n; ++i) drive(*static_cast<Connection*>(events[i].data.ptr));
        }
        stopping = true;
    }

    long requests = 0, errors = 0, resumed = 0;
    bool stopping = false;

private:
    int port_;
    std::string request_;
    SSL_CTX* ctx_;
    SSL_SESSION* session_;
    int epoll_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 6) {
        std::fprintf(stderr, "usage: tls_load PORT CONCURRENCY SECONDS PATH full|resume [tls1.2]\n");
        return 2;
    }
    const int port = std::atoi(argv[1]);
    const int concurrency = std::atoi(argv[2]);
    const double seconds = std::atof(argv[3]);
    const std::string path = argv[4];
    const bool resume = std::strcmp(argv[5], "resume") == 0;
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);

    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    if (argc > 6 && std::strcmp(argv[6], "tls1.2") == 0) SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION);
    // The client keeps the newest session of every connection; "resume" uses the first.
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    static SSL_SESSION* latest = nullptr;
    SSL_CTX_sess_set_new_cb(ctx.get(), [](SSL*, SSL_SESSION* s) {
        if (latest == nullptr) {
            latest = s;
            return 1;  // we keep this reference
        }
        return 0;
    });
    SessionPtr session;
    if (resume) {  // one connection first, for the session every other one offers
        Load probe(port, path, ctx.get(), nullptr);
        probe.run(1, 10, 1);
        session.reset(latest);
        if (!session || probe.requests != 1) {
            std::fprintf(stderr, "tls_load: no session from the first connection\n");
            return 1;
        }
    }
    Load load(port, path, ctx.get(), session.get());
    load.run(concurrency, seconds);
    std::printf("requests %ld errors %ld resumed %ld\n", load.requests, load.errors, load.resumed);
    return 0;
}
