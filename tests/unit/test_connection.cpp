// The connection state machine over a socketpair, with a real handler and root: no
// epoll, no fork. Each test drives readiness by hand.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/connection.hpp"
#include "session_parts.hpp"

namespace pywebd {
namespace {

using std::chrono::milliseconds;

class ConnectionTest : public testing::Test, protected test::SessionParts {
protected:
    ConnectionTest() {
        dir.write("index.html", "<h1>home</h1>");
        dir.write("a.txt", "AAAA");
        dir.write("big.bin", std::string(300000, 'x'));
        access.reopen(UniqueFd(::open((dir.path() / "access.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600)));
        int fds[2];
        ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds);
        client_.reset(fds[1]);
        connection_ = std::make_unique<Connection>(UniqueFd(fds[0]), PeerAddress{}, 0, 1, 1);
    }

    void start() { connection_->start(services); }
    void send(std::string_view bytes) {
        ASSERT_EQ(::write(client_.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
        connection_->on_events(EPOLLIN, services);
    }
    std::string receive() {
        std::string out;
        char buffer[65536];
        for (;;) {
            const ssize_t n = ::read(client_.get(), buffer, sizeof buffer);
            if (n <= 0 && connection_->wants_turn()) {  // stopped at its send budget: the worker's next turn
                connection_->resume(services);
                continue;
            }
            if (n <= 0) break;
            out.append(buffer, static_cast<std::size_t>(n));
            connection_->on_events(EPOLLOUT, services);  // room again: let it continue
        }
        return out;
    }
    // The access log so far (the fixture logs to a file in the temp dir).
    std::string access_log_line() {
        access.flush();
        std::ifstream in(dir.path() / "access.log");
        std::string line;
        std::getline(in, line);
        return line;
    }
    bool client_sees_eof() {
        char c;
        return ::read(client_.get(), &c, 1) == 0;
    }
    static int count(const std::string& haystack, std::string_view needle) {
        int n = 0;
        for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
        return n;
    }

    UniqueFd client_;
    std::unique_ptr<Connection> connection_;
};

TEST_F(ConnectionTest, ServesAndKeepsAlive) {
    start();
    send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string response = receive();
    EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
    EXPECT_NE(response.find("Content-Length: 4\r\n"), std::string::npos);
    EXPECT_EQ(response.substr(response.size() - 4), "AAAA");
    EXPECT_EQ(connection_->session().state(), ConnState::Idle);
    EXPECT_EQ(pool.spare(), 1u);  // idle connections hold no buffers
}

TEST_F(ConnectionTest, PipelinedRequestsAnsweredInOrder) {
    start();
    send(
        "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string r = receive();
    const auto first = r.find("HTTP/1.1 200");
    const auto second = r.find("HTTP/1.1 200", first + 1);
    const auto third = r.find("HTTP/1.1 404");
    ASSERT_NE(first, std::string::npos);
    ASSERT_NE(second, std::string::npos);
    ASSERT_NE(third, std::string::npos);
    EXPECT_LT(first, second);
    EXPECT_LT(second, third);
    EXPECT_EQ(count(r, "<h1>home</h1>"), 0);  // HEAD has no body
    EXPECT_EQ(connection_->session().state(), ConnState::Idle);
}

TEST_F(ConnectionTest, OneByteAtATime) {
    start();
    const std::string request = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    for (char c : request) send(std::string_view(&c, 1));
    EXPECT_NE(receive().find("AAAA"), std::string::npos);
}

TEST_F(ConnectionTest, BadRequestClosesAndIgnoresWhatFollows) {
    start();
    send(
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string r = receive();
    EXPECT_EQ(r.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
    EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos);
    EXPECT_EQ(count(r, "HTTP/1.1"), 1);  // the smuggled request is never answered
    EXPECT_EQ(connection_->session().state(), ConnState::Lingering);
    EXPECT_TRUE(client_sees_eof());
}

TEST_F(ConnectionTest, SmallBodyIsDiscardedAndTheConnectionKept) {
    start();
    send("POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
    std::string r = receive();
    EXPECT_EQ(r.rfind("HTTP/1.1 405", 0), 0u);
    EXPECT_NE(r.find("Allow: GET, HEAD, OPTIONS\r\n"), std::string::npos);
    send("56789GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    r = receive();
    EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(ConnectionTest, ABodyOverTheDiscardLimitClosesAfterTheResponse) {
    start();
    send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    std::string r = receive();
    EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos);
    EXPECT_EQ(connection_->session().state(), ConnState::Lingering);
}

TEST_F(ConnectionTest, LargeFileArrivesWhole) {
    start();
    send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string r = receive();
    const auto body = r.find("\r\n\r\n") + 4;
    EXPECT_EQ(r.size() - body, 300000u);
    EXPECT_EQ(connection_->session().state(), ConnState::Idle);
}

TEST_F(ConnectionTest, FileThatShrinksWhileSentEndsTheConnection) {
    start();
    send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");  // 300000 bytes: more than the socket holds
    ASSERT_EQ(connection_->session().state(), ConnState::Sending);
    std::filesystem::resize_file(dir.path() / "big.bin", 1000);  // truncated under the response
    const std::string r = receive();
    EXPECT_NE(r.find("Content-Length: 300000\r\n"), std::string::npos);
    EXPECT_LT(r.size() - (r.find("\r\n\r\n") + 4), 300000u);  // never padded to the announced length
    EXPECT_EQ(connection_->session().state(), ConnState::Closed);
    EXPECT_TRUE(client_sees_eof());
    // The aborted response is logged like any other, with the bytes that went out.
    const std::string line = access_log_line();
    EXPECT_NE(line.find("\"GET /big.bin HTTP/1.1\" 200 "), std::string::npos) << line;
    const auto sent = std::stoull(line.substr(line.find("\" 200 ") + 6));
    EXPECT_GT(sent, 0u);
    EXPECT_LT(sent, 300000u);
}

TEST_F(ConnectionTest, HeaderTimeoutAnswers408OnlyWhenBytesArrived) {
    start();
    send("GET / HTTP/1.1\r\n");
    services.session.now_ms = 1000;
    TimerNode* expired = timers.pop_expired(services.session.now_ms);
    ASSERT_EQ(expired, connection_.get());
    connection_->on_timeout(services);
    EXPECT_EQ(receive().rfind("HTTP/1.1 408", 0), 0u);
}

TEST_F(ConnectionTest, KeepAliveTimeoutCloses) {
    start();
    send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    receive();
    services.session.now_ms = 2000;
    ASSERT_EQ(timers.pop_expired(services.session.now_ms), connection_.get());
    connection_->on_timeout(services);
    EXPECT_EQ(connection_->session().state(), ConnState::Closed);
    EXPECT_TRUE(client_sees_eof());
}

TEST_F(ConnectionTest, Http10GetsCloseUnlessKeepAlive) {
    start();
    send("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    std::string r = receive();
    EXPECT_NE(r.find("Connection: keep-alive\r\n"), std::string::npos);
    EXPECT_EQ(connection_->session().state(), ConnState::Idle);
    send("GET /a.txt HTTP/1.0\r\n\r\n");
    r = receive();
    EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(client_sees_eof());
}

TEST_F(ConnectionTest, DrainingAnswersWithClose) {
    start();
    services.session.draining = true;
    send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(receive().find("Connection: close\r\n"), std::string::npos);
}

TEST_F(ConnectionTest, PeerCloseClosesQuietly) {
    start();
    client_.reset();
    connection_->on_events(EPOLLIN | EPOLLRDHUP, services);
    EXPECT_EQ(connection_->session().state(), ConnState::Closed);
}

}  // namespace
}  // namespace pywebd
