#include "net/tls_transport.hpp"

#include <openssl/err.h>
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
    if (operation == (BIO_CB_READ | BIO_CB_RETURN)) self->socket_drained_ = result <= 0 || *processed < length;
    return result;
}

// Every handshake message OpenSSL reads is counted (OpenSSL puts itself back "in init"
// to process a post-handshake one, so the count covers the handshake too).
void TlsTransport::on_message(int write, int, int content_type, const void*, std::size_t, SSL*, void* self) {
    auto* transport = static_cast<TlsTransport*>(self);
    if (write != 0 || content_type != SSL3_RT_HANDSHAKE) return;
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
// a client that spoke plain HTTP to this port. A ClientHello's headers are checked before
// OpenSSL reads them; until all nine bytes are there, each new byte raises a new edge.
bool TlsTransport::detect() {
    unsigned char header[kHelloHeader] = {};
    ssize_t n;
    do n = ::recv(socket_.fd(), header, sizeof header, MSG_PEEK);
    while (n < 0 && errno == EINTR);
    if (n > 0 && header[0] != kHandshakeRecord) {
        mode_ = Mode::PlainHttp;
        return true;
    }
    if (n == static_cast<ssize_t>(kHelloHeader)) {
        const std::size_t declared = (std::size_t{header[6]} << 16) | (std::size_t{header[7]} << 8) | header[8];
        if (header[5] == kClientHello && declared > kMaxClientHello) {
            detect_result_ = refuse("a ClientHello longer than 16 KiB");
            return false;
        }
        mode_ = Mode::Tls;
        return true;
    }
    if (n > 0) {
        detect_result_ = {Io::WouldBlock, 0, EAGAIN};
        return false;
    }
    if (n == 0)
        detect_result_ = {Io::PeerClosed, 0, 0};
    else if (errno == EAGAIN || errno == EWOULDBLOCK)
        detect_result_ = {Io::WouldBlock, 0, errno};
    else
        detect_result_ = {Io::Failed, 0, errno};
    return false;
}

// A connection ended for what it sent: named at info, as any client's failure is.
IoResult TlsTransport::refuse(const char* why) {
    broken_ = true;
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
    ERR_clear_error();
    const int n = SSL_read(ssl_.get(), into.data(), clamp(into.size()));
    if (n > 0) return {Io::Done, static_cast<std::size_t>(n), 0};
    return failed(n, Wait::Readable);
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
    const std::size_t limit = retry_length_ > 0 ? retry_length_ : state_.buffer.size();
    std::size_t length = 0;
    for (const iovec& segment : segments) {
        const std::size_t n = std::min(segment.iov_len, limit - length);
        std::memcpy(state_.buffer.data() + length, segment.iov_base, n);
        length += n;
        if (length == limit) break;
    }
    return encrypt(state_.buffer.data(), length);
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

// close_notify first (best effort: if it cannot go out now, the FIN still does), then
// the socket's write side.
bool TlsTransport::shutdown_write() {
    send_close_notify();
    return socket_.shutdown_write();
}

void TlsTransport::close() {
    send_close_notify();
    socket_.close();
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

std::string_view TlsTransport::tls_cipher() const {
    return mode_ == Mode::Tls && SSL_is_init_finished(ssl_.get()) ? SSL_get_cipher_name(ssl_.get())
                                                                  : std::string_view();
}

}  // namespace pywebd
