#pragma once

#include <cstdint>
#include <vector>

#include "log.hpp"
#include "metric_counters.hpp"
#include "net/peer_address.hpp"
#include "net/plain_transport.hpp"
#include "openssl_ptr.hpp"

namespace pywebd {

// What a worker's TLS connections share: one record's worth of buffer (writes are
// gathered or file ranges read into it before encryption; it is never held between
// calls, so idle connections keep nothing) and the log handshake failures go to.
struct TlsWorkerState {
    explicit TlsWorkerState(Logger& logger) : buffer(kRecord), log(logger) {}
    static constexpr std::size_t kRecord = 16 * 1024;  // the largest TLS record's plaintext
    std::vector<char> buffer;
    Logger& log;
    bool ktls = false;                   // the context asks OpenSSL for kernel TLS
    bool ktls_fallback_logged = false;   // a connection it could not give kTLS was named once
    WorkerCounters* counters = nullptr;  // handshakes, when the worker exports metrics
};

// TLS over a connection's socket with OpenSSL. The handshake happens inside the first
// reads. Edge-triggered epoll's traps are handled here: OpenSSL may hold bytes it has
// read (a short read proves the socket empty only if OpenSSL's own read of it was short
// and it holds nothing: short_read_drains(), watched with a BIO callback, so the read
// that would only say EAGAIN is skipped as on a plain socket), a write may need to
// read and a read to write (waiting_for()), and a write that could not finish must be
// retried with the same bytes (the length is kept; the session offers the same data).
// File ranges go out with SSL_sendfile when the kernel does the encryption (kTLS), else
// through the worker's buffer in full records. A client whose first byte is not a TLS
// handshake record spoke plain HTTP: the socket is then used as is, so the session can
// answer it in plain text. What a client could use to make OpenSSL work or hold memory
// for nothing is cut before: a ClientHello declaring more than any real one (OpenSSL
// would allocate the declared length at once), and more post-handshake messages than a
// client needs (a stream of KeyUpdates would be processed inside one SSL_read for as
// long as it lasts). A connection that ends after the handshake ends with close_notify.
class TlsTransport final : public Transport {
public:
    // `connection` and `peer` name the connection in the log; the peer outlives us.
    TlsTransport(PlainTransport& socket, SslPtr ssl, TlsWorkerState& state, std::uint32_t connection,
                 const PeerAddress& peer);

    IoResult read(std::span<char> into) override;
    IoResult write(std::span<const iovec> segments, bool more) override;
    IoResult send_file(int file, std::uint64_t offset, std::size_t count) override;
    IoResult write_then_file(std::span<const iovec> head, int file, std::uint64_t offset, std::size_t count) override;
    bool shutdown_write() override;
    Wait waiting_for() const override;
    bool short_read_drains() const override;
    void send_immediately() override { socket_.send_immediately(); }
    void close() override;
    void reset() override;
    bool plain_http_on_tls_port() const override { return mode_ == Mode::PlainHttp; }
    std::string_view tls_protocol() const override;
    std::string_view tls_cipher() const override;
    std::string_view alpn() const override;
    bool certificate_covers(std::string_view host) override;

private:
    enum class Mode : std::uint8_t { Detecting, Tls, PlainHttp };

    bool detect();  // false: not yet known (or the peer left)
    bool check_client_hello(bool after_retry);
    IoResult unread(int error);
    static long on_socket_io(BIO* bio, int operation, const char*, std::size_t length, int, long, int result,
                             std::size_t* processed);
    static void on_message(int write, int version, int content_type, const void* message, std::size_t length, SSL* ssl,
                           void* self);
    IoResult refuse(const char* why);
    // Counts the handshake once: full or resumed when it finished, or failed.
    void count_handshake(bool failed);
    void count_unfinished_handshake();
    void send_close_notify();
    IoResult encrypt(const char* data, std::size_t length);
    std::size_t record_limit() const;
    std::size_t gather(std::span<const iovec> segments, std::size_t limit);
    IoResult failed(int result, Wait wait);

    PlainTransport& socket_;
    SslPtr ssl_;
    TlsWorkerState& state_;
    std::size_t retry_length_ = 0;  // a write that said WouldBlock: retry with exactly this many bytes
    std::uint32_t connection_;
    const PeerAddress& peer_;
    Mode mode_ = Mode::Detecting;
    bool socket_drained_ = false;  // OpenSSL's last read of the socket got less than it asked for
    bool broken_ = false;          // a fatal error or a refusal: no close_notify, no more reads
    bool close_notify_sent_ = false;
    bool hello_retry_ = false;             // a HelloRetryRequest went out: check the second ClientHello first
    bool handshake_counted_ = false;       // its outcome is in the metrics
    std::uint8_t handshake_messages_ = 0;  // received, the handshake's and those after it (KeyUpdate …)
    Wait waiting_ = Wait::Readable;
    IoResult detect_result_{Io::Done, 0, 0};
};

}  // namespace pywebd
