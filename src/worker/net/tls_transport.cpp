#include "net/tls_transport.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace pywebd {
namespace {

constexpr unsigned char kHandshakeRecord = 0x16;  // the first byte of every TLS ClientHello
constexpr unsigned char kClientHello = 0x01;
constexpr unsigned char kServerHello = 0x02;
constexpr unsigned char kChangeCipherSpec = 0x14;
constexpr std::size_t kChangeCipherSpecRecord = 6;  // 14 03 03 00 01 01
// A ServerHello with this random is a HelloRetryRequest (RFC 8446 §4.1.3).
constexpr unsigned char kHelloRetryRandom[32] = {0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C,
                                                 0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB,
                                                 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};
// What the transport checks before OpenSSL reads anything: the record header (5 bytes)
// and the handshake message header (type, 24-bit length).
constexpr std::size_t kHelloHeader = 9;
// Real ClientHellos are 200 B to 2 KiB (with post-quantum key shares); OpenSSL itself
// accepts up to 128 KiB and allocates the declared length on reading the header.
constexpr std::size_t kMaxClientHello = 16 * 1024;
// Handshake messages a client may send on one connection: at most four in the handshake
// itself (a second ClientHello after a HelloRetryRequest included), then post-handshake
// ones (KeyUpdate): a long-lived connection rekeys a handful of times.
constexpr std::uint8_t kMaxHandshakeMessages = 4 + 32;

int clamp(std::size_t n) { return static_cast<int>(std::min<std::size_t>(n, INT_MAX)); }

}  // namespace

TlsTransport::TlsTransport(PlainTransport& socket, SslPtr ssl, TlsWorkerState& state, std::uint32_t connection,
                           const PeerAddress& peer)
    : socket_(socket), ssl_(std::move(ssl)), state_(state), connection_(connection), peer_(peer) {
    BIO* bio = SSL_get_rbio(ssl_.get());
    BIO_set_callback_arg(bio, reinterpret_cast<char*>(this));
    BIO_set_callback_ex(bio, on_socket_io);
    SSL_set_msg_callback(ssl_.get(), on_message);
    SSL_set_msg_callback_arg(ssl_.get(), this);
}

// Before each read OpenSSL makes of the socket: none once the connection is refused
// (a read that fails ends the SSL_read that wanted it). After each: was it short?
long TlsTransport::on_socket_io(BIO* bio, int operation, const char*, std::size_t length, int, long, int result,
                                std::size_t* processed) {
    auto* self = reinterpret_cast<TlsTransport*>(BIO_get_callback_arg(bio));
    if (operation == BIO_CB_READ && self->broken_) return -1;
    if (operation == BIO_CB_READ && self->hello_retry_) {  // not before read() has checked the next ClientHello
        BIO_set_retry_read(bio);
        return -1;
    }
    if (operation == (BIO_CB_READ | BIO_CB_RETURN)) self->socket_drained_ = result <= 0 || *processed < length;
    return result;
}

// Every handshake message OpenSSL reads is counted (OpenSSL puts itself back "in init"
// to process a post-handshake one, so the count covers the handshake too).
void TlsTransport::on_message(int write, int, int content_type, const void* message, std::size_t length, SSL*,
                              void* self) {
    auto* transport = static_cast<TlsTransport*>(self);
    if (content_type != SSL3_RT_HANDSHAKE) return;
    if (write != 0) {
        // A HelloRetryRequest (type, 3-byte length, version, then the random): the second
        // ClientHello is checked like the first before OpenSSL may read it.
        const auto* bytes = static_cast<const unsigned char*>(message);
        if (length >= 6 + sizeof kHelloRetryRandom && bytes[0] == kServerHello &&
            std::memcmp(bytes + 6, kHelloRetryRandom, sizeof kHelloRetryRandom) == 0)
            transport->hello_retry_ = true;
        return;
    }
    if (transport->handshake_messages_ == kMaxHandshakeMessages)
        transport->broken_ = true;  // the next socket read fails, ending this SSL_read
    else
        ++transport->handshake_messages_;
}

bool TlsTransport::short_read_drains() const {
    if (mode_ == Mode::PlainHttp) return true;
    return socket_drained_ && SSL_has_pending(ssl_.get()) == 0;
}

// A TLS client's first byte is a handshake record; anything else (most often "GET ") is
// a client that spoke plain HTTP to this port.
bool TlsTransport::detect() {
    unsigned char first = 0;
    ssize_t n;
    do n = ::recv(socket_.fd(), &first, 1, MSG_PEEK);
    while (n < 0 && errno == EINTR);
    if (n == 1 && first != kHandshakeRecord) {
        mode_ = Mode::PlainHttp;
        return true;
    }
    if (n == 1 && !check_client_hello(false)) return false;
    if (n == 1) {
        mode_ = Mode::Tls;
        return true;
    }
    detect_result_ = n == 0 ? IoResult{Io::PeerClosed, 0, 0} : unread(errno);
    return false;
}

IoResult TlsTransport::unread(int error) {
    waiting_ = Wait::Readable;
    return error == EAGAIN || error == EWOULDBLOCK ? IoResult{Io::WouldBlock, 0, error}
                                                   : IoResult{Io::Failed, 0, error};
}

// The headers of the ClientHello at the front of the socket (after the ChangeCipherSpec
// record a client may send before its second one), checked before OpenSSL reads them:
// a first record too short to hold the message header, or a ClientHello declaring more
// than kMaxClientHello, is refused. Until the headers are all there, each new byte raises
// a new edge; a client that closes before is gone. False with detect_result_ set when
// the read cannot go on now.
bool TlsTransport::check_client_hello(bool after_retry) {
    unsigned char bytes[kChangeCipherSpecRecord + kHelloHeader] = {};
    ssize_t n;
    do n = ::recv(socket_.fd(), bytes, sizeof bytes, MSG_PEEK);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        detect_result_ = n == 0 ? IoResult{Io::PeerClosed, 0, 0} : unread(errno);
        return false;
    }
    const std::size_t have = static_cast<std::size_t>(n);
    const std::size_t at = after_retry && bytes[0] == kChangeCipherSpec ? kChangeCipherSpecRecord : 0;
    if (have < at + kHelloHeader) {
        pollfd p{socket_.fd(), POLLRDHUP, 0};
        const bool gone = ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
        detect_result_ = gone ? IoResult{Io::PeerClosed, 0, 0} : unread(EAGAIN);
        return false;
    }
    const unsigned char* header = bytes + at;
    const std::size_t record = (std::size_t{header[3]} << 8) | header[4];
    const std::size_t declared = (std::size_t{header[6]} << 16) | (std::size_t{header[7]} << 8) | header[8];
    if (header[0] == kHandshakeRecord && record < 4) {
        detect_result_ = refuse("a ClientHello whose header is split across records");
        return false;
    }
    if (header[0] == kHandshakeRecord && header[5] == kClientHello && declared > kMaxClientHello) {
        detect_result_ = refuse("a ClientHello longer than 16 KiB");
        return false;
    }
    return true;
}

void TlsTransport::count_handshake(bool failed) {
    if (handshake_counted_ || state_.counters == nullptr) return;
    handshake_counted_ = true;
    WorkerCounters& counters = *state_.counters;
    if (failed)
        counters.tls_failed.add();
    else if (SSL_session_reused(ssl_.get()) == 1)
        counters.tls_resumed.add();
    else
        counters.tls_full.add();
}

// A connection ended for what it sent: named at info, as any client's failure is.
IoResult TlsTransport::refuse(const char* why) {
    broken_ = true;
    if (mode_ != Mode::PlainHttp && !SSL_is_init_finished(ssl_.get())) count_handshake(true);
    if (state_.log.enabled(LogLevel::Info)) {
        char address[INET6_ADDRSTRLEN];
        state_.log.info("TLS connection refused conn={} peer={}: {}", connection_, peer_.format(address), why);
    }
    return {Io::PeerClosed, 0, EPROTO};
}

// What an SSL call that did not succeed means for the session.
IoResult TlsTransport::failed(int result, Wait wait) {
    const int error = errno;
    if (broken_) {  // our own refusal (too many post-handshake messages) made the read fail
        ERR_clear_error();
        return refuse("more post-handshake messages than a client needs (a KeyUpdate flood?)");
    }
    switch (SSL_get_error(ssl_.get(), result)) {
    case SSL_ERROR_WANT_READ: waiting_ = Wait::Readable; return {Io::WouldBlock, 0, EAGAIN};
    case SSL_ERROR_WANT_WRITE: waiting_ = Wait::Writable; return {Io::WouldBlock, 0, EAGAIN};
    case SSL_ERROR_ZERO_RETURN: return {Io::PeerClosed, 0, 0};  // close_notify
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        broken_ = true;  // OpenSSL forbids SSL_shutdown after it
        if (error == 0 || error == ECONNRESET || error == EPIPE) return {Io::PeerClosed, 0, error};
        waiting_ = wait;
        return {Io::Failed, 0, error};
    default: {
        broken_ = true;
        // A protocol failure: a bad handshake, garbage, a truncated record. Named at info
        // (it is the client's), and the connection ends quietly.
        if (!SSL_is_init_finished(ssl_.get())) count_handshake(true);
        const unsigned long code = ERR_peek_error();
        if (ERR_GET_REASON(code) != SSL_R_UNEXPECTED_EOF_WHILE_READING && state_.log.enabled(LogLevel::Info)) {
            char address[INET6_ADDRSTRLEN];
            state_.log.info("TLS {} failed conn={} peer={}: {}",
                            SSL_is_init_finished(ssl_.get()) ? "connection" : "handshake", connection_,
                            peer_.format(address), openssl_errors());
        }
        ERR_clear_error();
        return {Io::PeerClosed, 0, EPROTO};
    }
    }
}

IoResult TlsTransport::read(std::span<char> into) {
    if (mode_ == Mode::Detecting && !detect()) return detect_result_;
    if (mode_ == Mode::PlainHttp) return socket_.read(into);
    for (;;) {
        ERR_clear_error();
        const int n = SSL_read(ssl_.get(), into.data(), clamp(into.size()));
        if (!handshake_counted_ && SSL_is_init_finished(ssl_.get())) count_handshake(false);
        if (n > 0) return {Io::Done, static_cast<std::size_t>(n), 0};
        if (!hello_retry_ || broken_ || SSL_get_error(ssl_.get(), n) != SSL_ERROR_WANT_READ)
            return failed(n, Wait::Readable);
        // OpenSSL sent a HelloRetryRequest and stopped before reading on (the BIO
        // callback): check the second ClientHello, then let it read.
        if (!check_client_hello(true)) return detect_result_;
        hello_retry_ = false;
    }
}

IoResult TlsTransport::encrypt(const char* data, std::size_t length) {
    ERR_clear_error();
    const int n = SSL_write(ssl_.get(), data, clamp(length));
    if (n > 0) {
        retry_length_ = 0;
        return {Io::Done, static_cast<std::size_t>(n), 0};
    }
    const IoResult result = failed(n, Wait::Writable);
    if (result.status == Io::WouldBlock) retry_length_ = length;  // OpenSSL wants the same bytes again
    return result;
}

// Gathers the head and memory segments into one record: a short response is one record
// and one write.
IoResult TlsTransport::write(std::span<const iovec> segments, bool more) {
    if (mode_ == Mode::PlainHttp) return socket_.write(segments, more);
    return encrypt(state_.buffer.data(), gather(segments, record_limit()));
}

// What the next record may hold: a full buffer, or exactly what a blocked call offered.
std::size_t TlsTransport::record_limit() const { return retry_length_ > 0 ? retry_length_ : state_.buffer.size(); }

// Copies the segments into the record buffer, up to `limit`; returns how much.
std::size_t TlsTransport::gather(std::span<const iovec> segments, std::size_t limit) {
    std::size_t length = 0;
    for (const iovec& segment : segments) {
        const std::size_t n = std::min(segment.iov_len, limit - length);
        std::memcpy(state_.buffer.data() + length, segment.iov_base, n);
        length += n;
        if (length == limit) break;
    }
    return length;
}

IoResult TlsTransport::send_file(int file, std::uint64_t offset, std::size_t count) {
    if (mode_ == Mode::PlainHttp) return socket_.send_file(file, offset, count);
    if (BIO_get_ktls_send(SSL_get_wbio(ssl_.get()))) {  // the kernel encrypts: zero copy
        ERR_clear_error();
        const ossl_ssize_t n = SSL_sendfile(ssl_.get(), file, static_cast<off_t>(offset), count, 0);
        if (n >= 0) return {Io::Done, static_cast<std::size_t>(n), 0};
        return failed(static_cast<int>(n), Wait::Writable);
    }
    if (state_.ktls && !state_.ktls_fallback_logged) {
        // The kernel may refuse a cipher (ChaCha20 on older kernels): say so once.
        state_.ktls_fallback_logged = true;
        state_.log.notice("TLS file bodies: kernel TLS not available for {}; encrypted in user space",
                          SSL_get_cipher_name(ssl_.get()));
    }
    const std::size_t length = retry_length_ > 0 ? retry_length_ : std::min(count, state_.buffer.size());
    ssize_t n;
    do n = ::pread(file, state_.buffer.data(), length, static_cast<off_t>(offset));
    while (n < 0 && errno == EINTR);
    if (n < 0) return {Io::Failed, 0, errno};
    if (n == 0) return {Io::Done, 0, 0};  // the file ended early
    return encrypt(state_.buffer.data(), static_cast<std::size_t>(n));
}

// The head and as much of the range as the rest of the record holds, in one record.
// A retry after WouldBlock rebuilds the same bytes (the caller offers the same head and
// range, and OpenSSL wants the same length again).
IoResult TlsTransport::write_then_file(std::span<const iovec> head, int file, std::uint64_t offset, std::size_t count) {
    if (mode_ == Mode::PlainHttp || BIO_get_ktls_send(SSL_get_wbio(ssl_.get())))
        return Transport::write_then_file(head, file, offset, count);  // the kernel encrypts the range
    const std::size_t limit = record_limit();
    std::size_t length = gather(head, limit);
    const std::size_t want = std::min(count, limit - length);
    if (want > 0) {
        ssize_t n;
        do n = ::pread(file, state_.buffer.data() + length, want, static_cast<off_t>(offset));
        while (n < 0 && errno == EINTR);
        if (n < 0) return {Io::Failed, 0, errno};
        if (n == 0 || (retry_length_ > 0 && static_cast<std::size_t>(n) < want)) return {Io::Done, 0, 0};
        length += static_cast<std::size_t>(n);
    }
    return encrypt(state_.buffer.data(), length);
}

// close_notify first (best effort: if it cannot go out now, the FIN still does), then
// the socket's write side.
bool TlsTransport::shutdown_write() {
    send_close_notify();
    return socket_.shutdown_write();
}

void TlsTransport::close() {
    count_unfinished_handshake();
    send_close_notify();
    socket_.close();
}

void TlsTransport::reset() {
    count_unfinished_handshake();
    broken_ = true;  // no close_notify: that would say the stream ended where it should
    socket_.reset();
}

// A connection that ends with its handshake begun and not finished (a reset, a timeout,
// the client giving up) is a failed handshake.
void TlsTransport::count_unfinished_handshake() {
    if (mode_ == Mode::Tls && !SSL_is_init_finished(ssl_.get())) count_handshake(true);
}

// Once, after a completed handshake and no fatal error; never waits.
void TlsTransport::send_close_notify() {
    if (mode_ != Mode::Tls || broken_ || close_notify_sent_ || !SSL_is_init_finished(ssl_.get())) return;
    close_notify_sent_ = true;
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
}

Transport::Wait TlsTransport::waiting_for() const {
    return mode_ == Mode::PlainHttp ? socket_.waiting_for() : waiting_;
}

std::string_view TlsTransport::tls_protocol() const {
    return mode_ == Mode::Tls && SSL_is_init_finished(ssl_.get()) ? SSL_get_version(ssl_.get()) : std::string_view();
}

// X509_check_host on the certificate the handshake used (chosen by SNI): only asked for
// requests naming a configured virtual host, so a few hundred nanoseconds are not saved.
bool TlsTransport::certificate_covers(std::string_view host) {
    X509* certificate = SSL_get_certificate(ssl_.get());
    if (certificate == nullptr) return false;
    const std::string name(host);
    in_addr ipv4{};
    if (::inet_pton(AF_INET, name.c_str(), &ipv4) == 1)  // an IP literal is an IP address SAN, not a DNS name
        return X509_check_ip_asc(certificate, name.c_str(), 0) == 1;
    return X509_check_host(certificate, name.data(), name.size(), 0, nullptr) == 1;
}

std::string_view TlsTransport::alpn() const {
    const unsigned char* name = nullptr;
    unsigned length = 0;
    SSL_get0_alpn_selected(ssl_.get(), &name, &length);
    return {reinterpret_cast<const char*>(name), length};
}

std::string_view TlsTransport::tls_cipher() const {
    return mode_ == Mode::Tls && SSL_is_init_finished(ssl_.get()) ? SSL_get_cipher_name(ssl_.get())
                                                                  : std::string_view();
}

}  // namespace pywebd
