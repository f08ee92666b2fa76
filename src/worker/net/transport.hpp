#pragma once

// How a connection's bytes move, below the protocol session: a plain socket today,
// TLS beside it. Every call is non-blocking; WouldBlock is an outcome, not a failure.

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace pywebd {

// errno is captured once, in `error`.
enum class Io : std::uint8_t { Done, WouldBlock, PeerClosed, Failed };
struct IoResult {
    Io status;
    std::size_t bytes;
    int error;
};

class Transport {
public:
    // What a call that said WouldBlock waits for: a TLS write may need to read first.
    enum class Wait : std::uint8_t { Readable, Writable };

    virtual ~Transport() = default;

    virtual IoResult read(std::span<char> into) = 0;
    // The head and memory segments in one call; `more`: more of the response follows.
    virtual IoResult write(std::span<const iovec> segments, bool more) = 0;
    // Up to `count` bytes of `file` from `offset`; Done with 0 bytes means the file ended
    // early. After a WouldBlock, TLS resends the blocked call's range whatever `count`
    // now is (OpenSSL wants the same bytes again), so a result may exceed `count`, never
    // the blocked call's.
    virtual IoResult send_file(int file, std::uint64_t offset, std::size_t count) = 0;
    // A few memory bytes that go just before a file range (HTTP/2's DATA frame header):
    // here the head with "more follows", then the range; a transport that copies anyway
    // (TLS in user space) puts both in one record. Returns the bytes of both that went,
    // Done with 0 if the file ended early.
    virtual IoResult write_then_file(std::span<const iovec> head, int file, std::uint64_t offset, std::size_t count);
    // Ends our direction of the stream (the reading side stays open); false if it cannot.
    virtual bool shutdown_write() = 0;
    virtual Wait waiting_for() const = 0;
    // Whether the last read, having returned less than it asked for, left nothing to read
    // until the next readiness edge: always for a socket; for TLS only when its own read
    // of the socket was short and OpenSSL holds no bytes (read ahead, or decrypted).
    virtual bool short_read_drains() const = 0;
    // Sends small writes at once (TCP_NODELAY) from now on.
    virtual void send_immediately() = 0;
    virtual void close() = 0;
    // Closes so that the peer sees an error (a TCP reset, no TLS close_notify): for a
    // body whose framing cannot say it was cut short (HTTP/1.0's, ended by the close).
    virtual void reset() { close(); }

    // A TLS transport's facts, for the session: a client that spoke plain HTTP to the
    // TLS port (answered in plain text, then closed), and what was negotiated (for logs).
    virtual bool plain_http_on_tls_port() const { return false; }
    virtual std::string_view tls_protocol() const { return {}; }
    virtual std::string_view tls_cipher() const { return {}; }
    // The protocol ALPN chose ("h2", "http/1.1"), empty when none or before the handshake.
    virtual std::string_view alpn() const { return {}; }
    // Whether the certificate this connection was set up with is valid for `host` (a
    // lower-case host name); always true without TLS.
    virtual bool certificate_covers(std::string_view) { return true; }
};

}  // namespace pywebd
