// The HTTP/1 session over a scripted in-memory transport: reads in any pieces, writes
// that take a few bytes at a time, WouldBlock at every step, and a transport that says
// what it waits for. No socket, no epoll: each test plays the readiness edges.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "fake_transport.hpp"
#include "h1/h1_session.hpp"
#include "session_parts.hpp"

namespace pywebd {
namespace {

class H1SessionTest : public testing::Test, protected test::SessionParts {
protected:
    H1SessionTest() {
        dir.write("a.txt", "AAAA");
        dir.write("big.bin", big_);  // above the small-file limit: sent with send_file
    }

    H1Context context() { return {{transport_, timer_, peer_, 1, listeners[0], services.session}, services.h1}; }

    // Plays epoll until the session waits for input that will not come: each WouldBlock
    // is answered with the edge the transport waits for, as the kernel would.
    void run() {
        H1Context c = context();
        session_.start(c);
        for (int i = 0; i < 100000 && session_.state() != ConnState::Closed; ++i) {
            if (session_.wants_turn()) {
                session_.resume(c);
                continue;
            }
            const bool input_left = !transport_.reads.empty() || transport_.eof_after_reads;
            const bool reading = session_.state() == ConnState::ReadingHead || session_.state() == ConnState::Idle ||
                                 session_.state() == ConnState::Lingering;
            if (reading && !input_left) return;
            session_.on_ready(input_left, true, false, c);  // readable only when there is input, as epoll says
        }
    }
    std::string body_of(std::size_t response) const {  // the n-th response's body (small ones)
        std::size_t at = 0;
        for (std::size_t i = 0; i <= response; ++i) at = transport_.sent.find("\r\n\r\n", at) + 4;
        return transport_.sent.substr(at, transport_.sent.find("HTTP/1.1", at) - at);
    }
    int count(std::string_view needle) const {
        int n = 0;
        for (auto at = transport_.sent.find(needle); at != std::string::npos; at = transport_.sent.find(needle, at + 1))
            ++n;
        return n;
    }

    const std::string big_ = std::string(100000, 'b') + "end";
    test::FakeTransport transport_;
    TimerNode timer_;
    PeerAddress peer_{};
    H1Session session_;
};

TEST_F(H1SessionTest, AHeadSplitAtEveryByteIsAnsweredOnce) {
    const std::string request = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    for (char ch : request) transport_.reads.emplace_back(1, ch);
    run();
    EXPECT_EQ(transport_.sent.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << transport_.sent;
    EXPECT_EQ(count("HTTP/1.1"), 1);
    EXPECT_TRUE(transport_.sent.ends_with("\r\n\r\nAAAA"));
    EXPECT_EQ(session_.state(), ConnState::Idle);
}

TEST_F(H1SessionTest, PartialWritesAndWouldBlockAtEveryStepLoseNoByte) {
    transport_.reads.emplace_back(
        "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: "
        "x\r\n\r\n");
    transport_.write_limit = 7;  // a head and a body split across many writes
    transport_.block_every_other = true;
    run();
    EXPECT_EQ(count("HTTP/1.1 200 OK"), 3) << transport_.sent.substr(0, 400);
    EXPECT_EQ(body_of(0), "AAAA");
    EXPECT_EQ(body_of(1), big_);  // byte-exact across send_file calls of 7 bytes
    EXPECT_EQ(body_of(2), "AAAA");
    EXPECT_EQ(session_.state(), ConnState::Idle);
}

TEST_F(H1SessionTest, ReadsTillWouldBlockWhenTheTransportMayHoldMoreThanTheSocketShows) {
    // Two requests arrive in two short reads with no WouldBlock between them, as a TLS
    // layer holding decrypted bytes delivers them. A socket transport may stop after the
    // first short read (the edge will come); one that does not drain must read on.
    const std::string one = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    transport_.drains = false;
    transport_.reads = {one, one};
    H1Context c = context();
    session_.start(c);  // one call, no further edge
    EXPECT_EQ(count("HTTP/1.1 200 OK"), 2);
    EXPECT_TRUE(transport_.reads.empty());
}

TEST_F(H1SessionTest, AShortReadFromASocketWaitsForTheNextEdge) {
    const std::string one = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    transport_.reads = {one, one};
    H1Context c = context();
    session_.start(c);
    EXPECT_EQ(count("HTTP/1.1 200 OK"), 1);  // the short read emptied the socket: wait
    session_.on_ready(true, false, false, c);
    EXPECT_EQ(count("HTTP/1.1 200 OK"), 2);
}

TEST_F(H1SessionTest, AWriteThatWaitsToReadWaitsForReadableNotWritable) {
    transport_.reads.emplace_back("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    transport_.block_every_other = true;
    transport_.write_waits_for = Transport::Wait::Readable;  // as a TLS write may
    H1Context c = context();
    session_.start(c);  // blocked on the read, then on the write
    session_.on_ready(true, false, false, c);
    ASSERT_EQ(session_.state(), ConnState::Sending);
    const std::size_t before = transport_.sent.size();
    session_.on_ready(false, true, false, c);  // writable: not what it waits for
    EXPECT_EQ(transport_.sent.size(), before);
    session_.on_ready(true, false, false, c);  // readable: it goes on
    EXPECT_GT(transport_.sent.size(), before);
}

// A client that asked to close and had sent nothing more may be closed on at once; one
// whose bytes arrived while the response went out must get a lingering close, or the
// kernel resets the connection and may destroy the end of the response.
TEST_F(H1SessionTest, BytesArrivingDuringTheResponseMakeTheCloseLinger) {
    transport_.reads.emplace_back("GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    transport_.write_limit = 4096;
    transport_.block_every_other = true;
    H1Context c = context();
    session_.start(c);
    for (int i = 0; i < 10 && session_.state() != ConnState::Sending; ++i) session_.on_ready(true, true, false, c);
    ASSERT_EQ(session_.state(), ConnState::Sending);
    transport_.reads.emplace_back("more bytes");  // arrives mid-response: epoll reports it
    for (int i = 0; i < 10000 && session_.state() == ConnState::Sending; ++i) session_.on_ready(true, true, false, c);
    EXPECT_EQ(body_of(0), big_);
    EXPECT_TRUE(transport_.shut);
    EXPECT_EQ(session_.state(), ConnState::Lingering);
}

TEST_F(H1SessionTest, AClientThatAskedToCloseAndSentNothingMoreIsClosedAtOnce) {
    transport_.reads.emplace_back("GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    run();
    EXPECT_TRUE(transport_.sent.ends_with("AAAA"));
    EXPECT_FALSE(transport_.shut);
    EXPECT_EQ(session_.state(), ConnState::Closed);
}

// "More follows" (MSG_MORE) holds a short segment back: set before a file range, never
// on the write that ends a response, or its tail would wait for up to 200 ms.
TEST_F(H1SessionTest, MoreFollowsOnlyWhenAFileRangeFollows) {
    transport_.reads.emplace_back("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    run();
    ASSERT_EQ(transport_.more, std::vector<bool>{true});  // the head; the body goes by send_file
    transport_.more.clear();
    transport_.reads.emplace_back("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    H1Context c = context();
    session_.on_ready(true, true, false, c);
    EXPECT_EQ(transport_.more, std::vector<bool>{false});  // head and body in one write: nothing follows
}

TEST_F(H1SessionTest, AReadThatWaitsToWriteWaitsForWritableNotReadable) {
    transport_.reads.emplace_back("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    transport_.block_every_other = true;
    transport_.read_waits_for = Transport::Wait::Writable;  // as a TLS read may
    H1Context c = context();
    session_.start(c);  // the first read would block on writability
    ASSERT_TRUE(transport_.sent.empty());
    session_.on_ready(true, false, false, c);  // readable: not what it waits for
    EXPECT_TRUE(transport_.sent.empty());
    EXPECT_EQ(transport_.reads.size(), 1u);
    session_.on_ready(false, true, false, c);  // writable: it reads on
    EXPECT_TRUE(transport_.reads.empty());
}

TEST_F(H1SessionTest, ABadRequestShutsTheWriteSideThenLingers) {
    transport_.reads.emplace_back(
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
    run();
    EXPECT_EQ(transport_.sent.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
    EXPECT_NE(transport_.sent.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(transport_.shut);
    EXPECT_EQ(session_.state(), ConnState::Lingering);
    transport_.eof_after_reads = true;  // the client closes: so do we
    H1Context c = context();
    session_.on_ready(true, false, true, c);
    EXPECT_EQ(session_.state(), ConnState::Closed);
    EXPECT_TRUE(transport_.closed);
}

}  // namespace
}  // namespace pywebd

namespace pywebd {
namespace {

// A client that keeps sending while the connection lingers (over TLS every read may
// return one tiny record, and the socket never runs dry) must not hold the worker: the
// session reads a bounded number of times per turn, then waits for its next one.
TEST_F(H1SessionTest, LingeringReadsABoundedAmountPerTurn) {
    transport_.drains = false;  // like TLS with records left: only WouldBlock says "empty"
    transport_.reads = {"GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /a.txt HTTP/1.1\r\n"};
    for (int i = 0; i < 100000; ++i) transport_.reads.emplace_back("x");
    H1Context c = context();
    session_.start(c);
    ASSERT_EQ(session_.state(), ConnState::Lingering);
    EXPECT_TRUE(session_.wants_turn()) << "one turn read " << 100001 - transport_.reads.size() << " times";
    EXPECT_GT(transport_.reads.size(), 99000u);
    session_.resume(c);  // the next turn goes on where it stopped
    EXPECT_GT(transport_.reads.size(), 98000u);
    EXPECT_LT(transport_.reads.size(), 99990u);
}

// The same for a request head that arrives in tiny pieces with no end in sight.
TEST_F(H1SessionTest, ReadingAHeadReadsABoundedAmountPerTurn) {
    transport_.drains = false;
    transport_.reads = {"GET /a.txt HTTP/1.1\r\n"};
    for (int i = 0; i < 1000; ++i) transport_.reads.emplace_back("X");
    H1Context c = context();
    session_.start(c);
    EXPECT_EQ(session_.state(), ConnState::ReadingHead);
    EXPECT_TRUE(session_.wants_turn());
    EXPECT_GT(transport_.reads.size(), 800u);
}

// Chunked request bodies (RFC 9112 §7.1) are read and dropped, so the connection stays
// usable: what came with the head is judged before anything is answered, the rest after.
constexpr std::string_view kChunkedHead = "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
constexpr std::string_view kNext = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(H1SessionTest, AChunkedBodyIsDroppedAndThePipelinedRequestAnswered) {
    transport_.reads.emplace_back(std::string(kChunkedHead) + "5;ext=1\r\nhello\r\n0\r\nTrailer: t\r\n\r\n" +
                                  std::string(kNext));
    run();
    EXPECT_EQ(count("HTTP/1.1 200 OK"), 2) << transport_.sent;
    EXPECT_EQ(count("Connection: close"), 0);
    EXPECT_EQ(body_of(1), "AAAA");
    EXPECT_EQ(session_.state(), ConnState::Idle);
}

TEST_F(H1SessionTest, AChunkedBodyArrivingByteByByteAfterItsResponseIsDropped) {
    transport_.reads.emplace_back(kChunkedHead);
    for (char ch : std::string("a\r\n0123456789\r\n0\r\n\r\n") + std::string(kNext))
        transport_.reads.emplace_back(1, ch);
    run();
    EXPECT_EQ(count("HTTP/1.1 200 OK"), 2) << transport_.sent;
    EXPECT_EQ(count("Connection: close"), 0);
    EXPECT_EQ(session_.state(), ConnState::Idle);
}

TEST_F(H1SessionTest, AMalformedChunkWithTheHeadIsA400AndAClose) {
    transport_.reads.emplace_back(std::string(kChunkedHead) + "5\r\nhelloXX0\r\n\r\n" + std::string(kNext));
    run();
    EXPECT_EQ(transport_.sent.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << transport_.sent;
    EXPECT_EQ(count("HTTP/1.1"), 1);
    EXPECT_NE(transport_.sent.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(transport_.shut);
}

TEST_F(H1SessionTest, AMalformedChunkAfterTheResponseEndsTheConnectionWithoutASecondAnswer) {
    transport_.reads = {std::string(kChunkedHead) + "5\r\nhel"};
    H1Context c = context();
    session_.start(c);
    ASSERT_EQ(count("HTTP/1.1 200 OK"), 1) << transport_.sent;
    transport_.reads = {"lo\r\nzz\r\n" + std::string(kNext)};  // "zz" is no chunk size
    session_.on_ready(true, false, false, c);
    EXPECT_EQ(count("HTTP/1.1"), 1) << transport_.sent;
    EXPECT_TRUE(transport_.shut);
    EXPECT_EQ(session_.state(), ConnState::Lingering);
}

TEST_F(H1SessionTest, AChunkedBodyOverTheDiscardLimitClosesAfterTheResponse) {
    transport_.reads.emplace_back(std::string(kChunkedHead) + "41\r\n" + std::string(65, 'x') + "\r\n0\r\n\r\n" +
                                  std::string(kNext));  // 65 bytes, the limit is 64
    run();
    EXPECT_EQ(count("HTTP/1.1 200 OK"), 1) << transport_.sent;
    EXPECT_NE(transport_.sent.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(transport_.shut);
}

// The review's smuggling case: a decoder left "done" by one body read the next chunked
// body as requests. Every chunked body starts from a fresh decoder.
TEST_F(H1SessionTest, TwoChunkedBodiesOnOneConnectionAreEachReadFromTheStart) {
    transport_.reads.emplace_back(std::string(kChunkedHead) + "0\r\n\r\n" + std::string(kChunkedHead) +
                                  "5\r\nhello\r\n0\r\n\r\n" + std::string(kNext));
    run();
    EXPECT_EQ(count("HTTP/1.1 200 OK"), 3) << transport_.sent;
    EXPECT_EQ(count("HTTP/1.1 400"), 0);
    EXPECT_EQ(session_.state(), ConnState::Idle);
}

TEST_F(H1SessionTest, ABodyDroppedAfterItsResponseLeavesTheConnectionIdleAndReadyForAnother) {
    transport_.reads = {std::string(kChunkedHead)};
    H1Context c = context();
    session_.start(c);
    ASSERT_EQ(count("HTTP/1.1 200 OK"), 1);
    transport_.reads = {"0\r\n\r\n"};
    session_.on_ready(true, false, false, c);
    EXPECT_EQ(session_.state(), ConnState::Idle) << "the body ended: the connection waits for a request";
    EXPECT_TRUE(session_.between_requests());
    transport_.reads = {std::string(kChunkedHead) + "3\r\nabc\r\n0\r\n\r\n"};
    session_.on_ready(true, false, false, c);
    EXPECT_EQ(count("HTTP/1.1 200 OK"), 2) << transport_.sent;
    EXPECT_EQ(count("HTTP/1.1 400"), 0);
    EXPECT_EQ(session_.state(), ConnState::Idle);
}

TEST_F(H1SessionTest, AStalledChunkedBodyTimesOutWithoutA408) {
    transport_.reads = {std::string(kChunkedHead) + "5;ext"};
    H1Context c = context();
    session_.start(c);
    ASSERT_EQ(count("HTTP/1.1 200 OK"), 1);
    EXPECT_FALSE(session_.between_requests()) << "a drain must wait for the body";
    session_.on_timeout(TimerKind::Header, c);
    EXPECT_EQ(count("HTTP/1.1"), 1) << "a second response to a request already answered";
    EXPECT_EQ(session_.state(), ConnState::Closed);
}

}  // namespace
}  // namespace pywebd
