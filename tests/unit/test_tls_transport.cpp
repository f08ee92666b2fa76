// The TLS transport over a real socket pair, against an OpenSSL client driven step by
// step: each trap edge-triggered epoll sets for TLS, provoked on purpose — bytes held
// inside OpenSSL after the socket is empty, a read that must wait to write, a write
// that must wait to read, a write retried with the same length — and the plain-HTTP
// client on a TLS port.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <string>

#include "net/tls_transport.hpp"
#include "temp_dir.hpp"
#include "test_pki.hpp"
#include "tls_certificates.hpp"
#include "tls_context.hpp"

namespace pywebd {
namespace {

bool socket_readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
}

class TlsTransportTest : public testing::Test {
protected:
    TlsTransportTest() : pki_(dir_.path()), log_("test"), state_(log_) {
        log_.set_level(LogLevel::Crit);
        ::signal(SIGPIPE, SIG_IGN);  // as in a worker: OpenSSL writes to a socket the peer may have closed
        const test::LeafFiles leaf = pki_.leaf("server");
        TlsSettings settings;
        settings.certificates.push_back({leaf.chain, leaf.key, {}, "x"});
        std::vector<std::string> errors, warnings;
        auto loaded = load_certificates(settings, std::time(nullptr), errors, warnings);
        EXPECT_TRUE(errors.empty());
        context_ = std::make_unique<TlsContext>(settings, std::move(loaded), nullptr);
        client_ctx_.reset(SSL_CTX_new(TLS_client_method()));
        SSL_CTX_load_verify_locations(client_ctx_.get(), pki_.ca_file().c_str(), nullptr);
        SSL_CTX_set_verify(client_ctx_.get(), SSL_VERIFY_PEER, nullptr);

        int fds[2];
        ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds);
        server_fd_ = fds[0];
        client_fd_.reset(fds[1]);
        socket_ = std::make_unique<PlainTransport>(UniqueFd(fds[0]), false);
        transport_ = std::make_unique<TlsTransport>(*socket_, context_->accept(server_fd_, false), state_, 1, peer_);
        client_.reset(SSL_new(client_ctx_.get()));
        SSL_set_fd(client_.get(), client_fd_.get());
        SSL_ctrl(client_.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>("localhost"));
        SSL_set_connect_state(client_.get());
    }

    // One step of the client's handshake: true once it is complete.
    bool client_step() { return SSL_do_handshake(client_.get()) == 1; }
    // Both sides in turns until the handshake is done (the server's side happens in reads).
    void handshake() {
        char byte;
        for (int i = 0; i < 50; ++i) {
            const bool client_done = client_step();
            const IoResult r = transport_->read({&byte, 1});
            ASSERT_NE(r.status, Io::PeerClosed);
            ASSERT_NE(r.status, Io::Failed);
            if (client_done && !transport_->tls_protocol().empty()) return;  // known once finished
        }
        FAIL() << "no handshake";
    }
    // Everything the client can read now.
    std::string client_read_all() {
        std::string out;
        char buffer[65536];
        int n;
        while ((n = SSL_read(client_.get(), buffer, sizeof buffer)) > 0)
            out.append(buffer, static_cast<std::size_t>(n));
        return out;
    }
    void client_write(const std::string& bytes) {
        ASSERT_EQ(SSL_write(client_.get(), bytes.data(), static_cast<int>(bytes.size())),
                  static_cast<int>(bytes.size()));
    }
    // Fills our send direction's socket buffer with raw bytes until it would block.
    void fill_server_to_client() {
        const std::string junk(65536, 'j');
        while (::send(server_fd_, junk.data(), junk.size(), MSG_DONTWAIT) > 0) {}
    }
    IoResult write(const std::string& bytes) {
        const iovec segment{const_cast<char*>(bytes.data()), bytes.size()};
        return transport_->write({&segment, 1}, false);
    }

    test::TempDir dir_;
    test::TestPki pki_;
    Logger log_;
    TlsWorkerState state_;
    PeerAddress peer_{};
    std::unique_ptr<TlsContext> context_;
    SslCtxPtr client_ctx_;
    int server_fd_ = -1;  // owned by socket_
    UniqueFd client_fd_;
    std::unique_ptr<PlainTransport> socket_;
    std::unique_ptr<TlsTransport> transport_;
    SslPtr client_;
};

// Records are read ahead into OpenSSL: the socket is empty while requests wait inside
// SSL. A read that returns less than asked is taken as "drained" only once OpenSSL's own
// read of the socket was short and it holds nothing more.
TEST_F(TlsTransportTest, BytesHeldInsideOpenSslAreReadWithoutANewEdge) {
    handshake();
    client_write(std::string(100, 'a'));
    client_write(std::string(100, 'b'));
    client_write(std::string(100, 'c'));
    std::string got;
    char buffer[50];
    IoResult r = transport_->read(buffer);
    ASSERT_EQ(r.status, Io::Done);
    got.append(buffer, r.bytes);
    EXPECT_FALSE(socket_readable(server_fd_)) << "the trap needs the records read ahead out of the socket";
    EXPECT_FALSE(transport_->short_read_drains()) << "OpenSSL still holds two and a half records";
    while (got.size() < 300 && (r = transport_->read(buffer)).status == Io::Done) got.append(buffer, r.bytes);
    EXPECT_EQ(got, std::string(100, 'a') + std::string(100, 'b') + std::string(100, 'c'));
    EXPECT_TRUE(transport_->short_read_drains()) << "all read, and the socket's last read was short";
    r = transport_->read(buffer);
    EXPECT_EQ(r.status, Io::WouldBlock);
    EXPECT_EQ(transport_->waiting_for(), Transport::Wait::Readable);
}

// The server's first flight goes out inside a read; with the socket full, that read
// waits for writability, and says so.
TEST_F(TlsTransportTest, AReadThatMustWriteWaitsForWritable) {
    EXPECT_FALSE(client_step());  // the ClientHello is sent
    fill_server_to_client();
    char byte;
    const IoResult r = transport_->read({&byte, 1});
    EXPECT_EQ(r.status, Io::WouldBlock);
    EXPECT_EQ(transport_->waiting_for(), Transport::Wait::Writable);
}

// A response written before the client's Finished arrived: the write waits to read.
// Once the client finishes, the same write goes through and arrives intact.
TEST_F(TlsTransportTest, AWriteThatMustReadWaitsForReadable) {
    EXPECT_FALSE(client_step());  // ClientHello
    char byte;
    EXPECT_EQ(transport_->read({&byte, 1}).status, Io::WouldBlock);  // server flight out, waits for Finished
    IoResult r = write("early response");
    EXPECT_EQ(r.status, Io::WouldBlock);
    EXPECT_EQ(transport_->waiting_for(), Transport::Wait::Readable);
    EXPECT_TRUE(client_step());  // the client's Finished
    r = write("early response");
    ASSERT_EQ(r.status, Io::Done);
    EXPECT_EQ(r.bytes, 14u);
    EXPECT_EQ(client_read_all(), "early response");
}

// OpenSSL must be offered the same bytes after a write that would block. The session
// offers the same data again (perhaps with more after it); the transport writes
// exactly as many bytes as before, and the stream arrives byte-exact.
TEST_F(TlsTransportTest, AWriteThatBlockedIsRetriedWithTheSameLength) {
    handshake();
    std::string stream;
    for (std::size_t i = 0; i < 300000; ++i) stream.push_back(static_cast<char>('A' + i % 53));
    std::size_t sent = 0, blocked_length = 0;
    std::string received;
    bool checked_retry = false;
    for (int turn = 0; turn < 100000 && sent < stream.size(); ++turn) {
        // Offer 5000 bytes at a time, but 12000 right after a WouldBlock.
        const std::size_t offer = std::min<std::size_t>(blocked_length > 0 ? 12000 : 5000, stream.size() - sent);
        const IoResult r = write(stream.substr(sent, offer));
        if (r.status == Io::WouldBlock) {
            ASSERT_EQ(transport_->waiting_for(), Transport::Wait::Writable);
            blocked_length = std::min<std::size_t>(5000, stream.size() - sent);
            received += client_read_all();  // the client reads: room again
            continue;
        }
        ASSERT_EQ(r.status, Io::Done);
        if (blocked_length > 0) {
            EXPECT_LE(r.bytes, blocked_length) << "a retry must not offer OpenSSL other bytes";
            checked_retry = true;
            blocked_length = 0;
        }
        sent += r.bytes;
    }
    received += client_read_all();
    EXPECT_TRUE(checked_retry) << "the socket never filled: the retry was not exercised";
    EXPECT_EQ(sent, stream.size());
    EXPECT_TRUE(received == stream);
}

// A file range goes out through the worker's buffer (no kTLS here) in full records.
TEST_F(TlsTransportTest, FileRangesAreEncryptedThroughTheBuffer) {
    handshake();
    std::string content;
    for (int i = 0; i < 100000; ++i) content.push_back(static_cast<char>(i % 251));
    test::TempDir files;
    const auto path = files.write("f.bin", content);
    UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    std::uint64_t offset = 1000;
    std::string received;
    while (offset < 90000) {
        const IoResult r = transport_->send_file(file.get(), offset, 90000 - offset);
        if (r.status == Io::WouldBlock) {
            received += client_read_all();
            continue;
        }
        ASSERT_EQ(r.status, Io::Done);
        ASSERT_GT(r.bytes, 0u);
        EXPECT_LE(r.bytes, TlsWorkerState::kRecord);
        offset += r.bytes;
    }
    received += client_read_all();
    EXPECT_TRUE(received == content.substr(1000, 89000));
}

// An HTTP/2 DATA frame: its 9-byte header and 16,375 bytes of a file make exactly one
// 16 KiB record, one write: not a record for the header and another for the payload.
TEST_F(TlsTransportTest, AHeadAndAFileRangeGoOutAsOneRecord) {
    handshake();
    client_read_all();  // the session tickets
    const std::string content(20000, 'f');
    test::TempDir files;
    UniqueFd file(::open(files.write("f.bin", content).c_str(), O_RDONLY | O_CLOEXEC));
    const std::string head = "123456789";
    const iovec segment{const_cast<char*>(head.data()), head.size()};
    const IoResult r = transport_->write_then_file({&segment, 1}, file.get(), 100, 16375);
    ASSERT_EQ(r.status, Io::Done);
    EXPECT_EQ(r.bytes, 16384u);
    // On the wire: one record, its header announcing the whole (TLS 1.3: + type + tag).
    unsigned char record[5];
    ASSERT_EQ(::recv(client_fd_.get(), record, 5, MSG_PEEK), 5);
    EXPECT_EQ(record[0], 23);  // application data
    EXPECT_EQ((record[3] << 8) | record[4], 16384 + 1 + 16);
    const std::string received = client_read_all();
    EXPECT_TRUE(received == head + content.substr(100, 16375));
}

// The session's budget may offer fewer file bytes on the retry than on the call that
// blocked; OpenSSL refuses a shorter retry, so the transport sends the blocked call's
// range again (never past it).
TEST_F(TlsTransportTest, AFileRetryWithASmallerCountSendsTheBlockedRange) {
    handshake();
    const std::string content(1 << 20, 'z');
    test::TempDir files;
    UniqueFd file(::open(files.write("f.bin", content).c_str(), O_RDONLY | O_CLOEXEC));
    std::uint64_t offset = 0;
    IoResult r{};
    while ((r = transport_->send_file(file.get(), offset, 16384)).status == Io::Done) offset += r.bytes;
    ASSERT_EQ(r.status, Io::WouldBlock);
    std::string received = client_read_all();
    r = transport_->send_file(file.get(), offset, 100);
    ASSERT_EQ(r.status, Io::Done) << "error " << r.error;
    EXPECT_GT(r.bytes, 100u);
    EXPECT_LE(r.bytes, 16384u);
    offset += r.bytes;
    received += client_read_all();
    EXPECT_EQ(received.size(), offset);
}

// A TLS 1.3 KeyUpdate carries no data: OpenSSL would process a stream of them inside one
// SSL_read for as long as the client sends, holding the whole worker. A connection that
// sends more post-handshake messages than any client needs is cut.
TEST_F(TlsTransportTest, AFloodOfKeyUpdatesEndsTheConnection) {
    handshake();
    // About 54 KB of KeyUpdates, more than OpenSSL reads ahead at once, made in memory and
    // sent in large writes (a write per record would fill the socket pair's buffer).
    BIO* flood = BIO_new(BIO_s_mem());
    SSL_set0_wbio(client_.get(), flood);  // the SSL owns it
    for (int i = 0; i < 2000; ++i) {
        ASSERT_EQ(SSL_key_update(client_.get(), SSL_KEY_UPDATE_NOT_REQUESTED), 1);
        ASSERT_EQ(SSL_do_handshake(client_.get()), 1);
    }
    char chunk[16384];
    for (int n; (n = BIO_read(flood, chunk, sizeof chunk)) > 0;)
        ASSERT_EQ(::send(client_fd_.get(), chunk, static_cast<std::size_t>(n), 0), n);
    char buffer[64];
    IoResult r{};
    for (int i = 0; i < 10 && (r = transport_->read(buffer)).status == Io::WouldBlock; ++i) {}
    EXPECT_EQ(r.status, Io::PeerClosed);
    EXPECT_EQ(r.error, EPROTO);
    int unread = 0;
    ASSERT_EQ(::ioctl(server_fd_, FIONREAD, &unread), 0);
    EXPECT_GT(unread, 0) << "OpenSSL read the whole flood: nothing stopped it at the limit";
}

// A few are a client's right (a long-lived connection rekeys): they pass.
TEST_F(TlsTransportTest, AFewKeyUpdatesAreServed) {
    handshake();
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(SSL_key_update(client_.get(), SSL_KEY_UPDATE_NOT_REQUESTED), 1);
        ASSERT_EQ(SSL_do_handshake(client_.get()), 1);
    }
    client_write("GET / HTTP/1.1\r\n\r\n");
    char buffer[64];
    IoResult r{};
    for (int i = 0; i < 10 && (r = transport_->read(buffer)).status == Io::WouldBlock; ++i) {}
    ASSERT_EQ(r.status, Io::Done);
    EXPECT_EQ(std::string(buffer, r.bytes), "GET / HTTP/1.1\r\n\r\n");
}

// OpenSSL allocates the length a handshake message declares as soon as it reads the
// message's header: nine bytes could pin 128 KiB until the header timeout. A ClientHello
// declaring more than any real one is refused before OpenSSL sees it.
TEST_F(TlsTransportTest, AClientHelloDeclaringAnAbsurdLengthIsRefusedUnread) {
    const unsigned char header[] = {0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x02, 0x01, 0x40};
    ASSERT_EQ(::send(client_fd_.get(), header, sizeof header, 0), static_cast<ssize_t>(sizeof header));
    char byte;
    const IoResult r = transport_->read({&byte, 1});
    EXPECT_EQ(r.status, Io::PeerClosed);
    EXPECT_EQ(r.error, EPROTO);
}

// The 4-byte handshake header split across records would hide the declared length from
// a check of the first record: a first record too short to hold it is refused.
TEST_F(TlsTransportTest, AClientHelloHeaderSplitAcrossRecordsIsRefused) {
    const unsigned char records[] = {0x16, 0x03, 0x01, 0x00, 0x02, 0x01, 0x00,
                                     0x16, 0x03, 0x01, 0x00, 0x02, 0xff, 0xff};
    ASSERT_EQ(::send(client_fd_.get(), records, sizeof records, 0), static_cast<ssize_t>(sizeof records));
    char byte;
    const IoResult r = transport_->read({&byte, 1});
    EXPECT_EQ(r.status, Io::PeerClosed);
    EXPECT_EQ(r.error, EPROTO);
}

// A client whose key share the server cannot use gets a HelloRetryRequest and sends a
// second ClientHello: it goes through the same check as the first.
TEST_F(TlsTransportTest, AHelloRetryRequestHandshakeCompletes) {
    SSL_CTX_set1_groups_list(client_ctx_.get(), "P-384:P-256");  // a P-384 share; the server wants P-256
    client_.reset(SSL_new(client_ctx_.get()));
    SSL_set_fd(client_.get(), client_fd_.get());
    SSL_set_connect_state(client_.get());
    handshake();
    client_write("ping");
    char buffer[8];
    const IoResult r = transport_->read(buffer);
    ASSERT_EQ(r.status, Io::Done);
    EXPECT_EQ(std::string(buffer, r.bytes), "ping");
}

TEST_F(TlsTransportTest, ASecondClientHelloDeclaringAnAbsurdLengthIsRefusedUnread) {
    SSL_CTX_set1_groups_list(client_ctx_.get(), "P-384:P-256");
    client_.reset(SSL_new(client_ctx_.get()));
    SSL_set_fd(client_.get(), client_fd_.get());
    SSL_set_connect_state(client_.get());
    EXPECT_FALSE(client_step());  // the first ClientHello
    char byte;
    EXPECT_EQ(transport_->read({&byte, 1}).status, Io::WouldBlock);  // the HelloRetryRequest went out
    char flight[4096];
    ASSERT_GT(::recv(client_fd_.get(), flight, sizeof flight, 0), 0);
    const unsigned char second[] = {0x14, 0x03, 0x03, 0x00, 0x01, 0x01,  // ChangeCipherSpec, as clients send
                                    0x16, 0x03, 0x03, 0x00, 0x04, 0x01, 0x02, 0x00, 0x00};
    ASSERT_EQ(::send(client_fd_.get(), second, sizeof second, 0), static_cast<ssize_t>(sizeof second));
    const IoResult r = transport_->read({&byte, 1});
    EXPECT_EQ(r.status, Io::PeerClosed);
    EXPECT_EQ(r.error, EPROTO);
}

// A client that sends the start of a record and then closes is gone: the connection ends
// at once, not at the header timeout.
TEST_F(TlsTransportTest, APartialClientHelloThenCloseEndsAtOnce) {
    const unsigned char start[] = {0x16, 0x03};
    ASSERT_EQ(::send(client_fd_.get(), start, sizeof start, 0), 2);
    ::shutdown(client_fd_.get(), SHUT_WR);
    char byte;
    EXPECT_EQ(transport_->read({&byte, 1}).status, Io::PeerClosed);
}

// The first bytes of a ClientHello arriving one at a time: the transport waits for the
// nine it checks (each byte raises a new edge), then the handshake goes on.
TEST_F(TlsTransportTest, AClientHelloHeaderSplitIntoSingleBytesIsWaitedFor) {
    SslPtr memory_client(SSL_new(client_ctx_.get()));
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(memory_client.get(), in, out);  // the SSL owns both
    SSL_set_connect_state(memory_client.get());
    SSL_do_handshake(memory_client.get());
    std::string hello(static_cast<std::size_t>(BIO_ctrl_pending(out)), '\0');
    ASSERT_GT(BIO_read(out, hello.data(), static_cast<int>(hello.size())), 9);
    char byte;
    for (std::size_t i = 0; i < 9; ++i) {
        ASSERT_EQ(::send(client_fd_.get(), &hello[i], 1, 0), 1);
        const IoResult r = transport_->read({&byte, 1});
        EXPECT_EQ(r.status, Io::WouldBlock) << "after " << i + 1 << " bytes";
    }
    ASSERT_EQ(::send(client_fd_.get(), hello.data() + 9, hello.size() - 9, 0), static_cast<ssize_t>(hello.size() - 9));
    const IoResult r = transport_->read({&byte, 1});
    EXPECT_EQ(r.status, Io::WouldBlock);  // the server's flight went out; it waits for the client's Finished
    char flight[8192];
    EXPECT_GT(::recv(client_fd_.get(), flight, sizeof flight, MSG_DONTWAIT), 0) << "no ServerHello";
}

// A TLS connection that ends after a response ends with close_notify, so the client can
// tell the end from a cut (RFC 8446 §6.1), whether or not the connection lingers.
TEST_F(TlsTransportTest, ClosingSendsCloseNotify) {
    handshake();
    EXPECT_EQ(write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").status, Io::Done);
    transport_->close();
    client_read_all();
    char byte;
    EXPECT_EQ(SSL_read(client_.get(), &byte, 1), 0);
    EXPECT_EQ(SSL_get_error(client_.get(), 0), SSL_ERROR_ZERO_RETURN) << "the end came without close_notify";
}

TEST_F(TlsTransportTest, PlainHttpOnTheTlsPortIsReadAsIs) {
    const std::string request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    ASSERT_EQ(::send(client_fd_.get(), request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
    char buffer[100];
    const IoResult r = transport_->read(buffer);
    ASSERT_EQ(r.status, Io::Done);
    EXPECT_EQ(std::string(buffer, r.bytes), request);
    EXPECT_TRUE(transport_->plain_http_on_tls_port());
    EXPECT_TRUE(transport_->short_read_drains());
    EXPECT_EQ(write("HTTP/1.1 400 Bad Request\r\n").status, Io::Done);  // answered in plain text
    char answer[64] = {};
    EXPECT_GT(::recv(client_fd_.get(), answer, sizeof answer, 0), 0);
    EXPECT_EQ(std::string(answer).rfind("HTTP/1.1 400", 0), 0u);
}

TEST_F(TlsTransportTest, ACloseMidHandshakeIsThePeerLeaving) {
    EXPECT_FALSE(client_step());
    client_.reset();
    client_fd_.reset();
    char byte;
    IoResult r{};
    for (int i = 0; i < 5 && (r = transport_->read({&byte, 1})).status == Io::WouldBlock; ++i) {}
    EXPECT_EQ(r.status, Io::PeerClosed);
}

TEST_F(TlsTransportTest, GarbageIsAProtocolErrorThatEndsTheConnection) {
    const char garbage[] = "\x16\x03\x01\x00\x05hello";
    ASSERT_GT(::send(client_fd_.get(), garbage, sizeof garbage - 1, 0), 0);
    char byte;
    const IoResult r = transport_->read({&byte, 1});
    EXPECT_EQ(r.status, Io::PeerClosed);
    EXPECT_EQ(r.error, EPROTO);
}

}  // namespace
}  // namespace pywebd
