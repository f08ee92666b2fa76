#!/usr/bin/env python3
"""Frame-level HTTP/2 cases against a running pywebd h2c listener on 127.0.0.1.

Usage: h2_frames.py PORT [KEEPALIVE_SECONDS]
       h2_frames.py PORT download-through-stop MASTER_PID PATH SIZE
       h2_frames.py PORT dependent-stream PATH SIZE SMALL_PATH SMALL_SIZE
       h2_frames.py PORT split-heads-pin PATH        (server's timeouts.send 2s)
       h2_frames.py PORT back-to-back-heads          (server's timeouts.header 2s)

Each case opens a connection, sends the preface and its SETTINGS, then frames built
by hand (HPACK literals without indexing or Huffman, so any field can be malformed),
and checks what the server answers: a stream error is RST_STREAM with the code RFC
9113 names and the connection goes on (a normal request on it is answered); a
connection error is GOAWAY with its code, and a new connection is served. Prints one
line per case; exits 1 if any failed.
"""
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])
IDLE = float(sys.argv[2]) if len(sys.argv) == 3 and sys.argv[2].replace(".", "").isdigit() else None  # keep-alive
WAIT = 15.0  # a generous bound for anything the server should do "at once"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 2, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, COMPRESSION_ERROR = 0, 1, 3, 6, 9
failures = []


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(name, value):
    """A literal field without indexing, new name, no Huffman (RFC 7541 §6.2.2)."""
    name, value = name.encode(), value.encode()
    return b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


def block(fields):
    return b"".join(literal(n, v) for n, v in fields)


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


GET = [(":method", "GET"), (":scheme", "http"), (":authority", "t"), (":path", "/hello.txt")]


def request(stream, fields=None, flags=END_STREAM | END_HEADERS):
    return frame(HEADERS, flags, stream, block(GET if fields is None else fields))


class Connection:
    def __init__(self, receive_buffer=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(WAIT)
        if receive_buffer:  # before connecting, so the window scale matches it
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.connect(("127.0.0.1", PORT))
        self.buffer = b""
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0, b""))

    def send(self, data):
        self.sock.sendall(data)

    def next_frame(self):
        """(type, flags, stream, payload), or None when the server closed."""
        while True:
            if len(self.buffer) >= 9:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) >= 9 + length:
                    head, self.buffer = self.buffer[:9 + length], self.buffer[9 + length:]
                    stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
                    if head[3] == SETTINGS and not head[4] & ACK:
                        self.send(frame(SETTINGS, ACK, 0, b""))
                    if head[3] == PING and not head[4] & ACK:  # as every client must (RFC 9113 §6.7)
                        self.send(frame(PING, ACK, 0, head[9:]))
                    return head[3], head[4], stream, head[9:]
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                return None
            if not chunk:
                return None
            self.buffer += chunk

    def wait_for(self, want):
        """The first frame `want(frame)` accepts, or None (closed first)."""
        while True:
            f = self.next_frame()
            if f is None or want(f):
                return f

    def close(self):
        self.sock.close()


def closed_by_server(sock):
    """Reads and drops until the server closes (True) or the socket's timeout (False)."""
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def error_code(payload, offset):
    return int.from_bytes(payload[offset:offset + 4], "big")


def served(conn, stream):
    """A request on `stream` gets its response (HEADERS, then END_STREAM), no reset."""
    conn.send(request(stream))
    f = conn.wait_for(lambda f: f[2] == stream and f[0] in (HEADERS, DATA, RST_STREAM) and
                      (f[0] == RST_STREAM or f[1] & END_STREAM))
    return f is not None and f[0] != RST_STREAM


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail and not ok else ""))
    if not ok:
        failures.append(name)


def stream_error(name, frames, code=PROTOCOL_ERROR):
    conn = Connection()
    conn.send(frames)
    f = conn.wait_for(lambda f: f[0] in (RST_STREAM, GOAWAY) or (f[0] == HEADERS and f[2] == 1))
    got = "closed" if f is None else (
        "RST_STREAM %d on %d" % (error_code(f[3], 0), f[2]) if f[0] == RST_STREAM else
        "GOAWAY %d" % error_code(f[3], 4) if f[0] == GOAWAY else "a response")
    ok = f is not None and f[0] == RST_STREAM and f[2] == 1 and error_code(f[3], 0) == code
    check(name + " -> RST_STREAM", ok, got)
    if ok:
        check(name + ": the connection goes on", served(conn, 3))
    conn.close()


def connection_error(name, frames, code):
    conn = Connection()
    conn.send(frames)
    f = conn.wait_for(lambda f: f[0] == GOAWAY)
    got = "closed without GOAWAY" if f is None else "GOAWAY %d" % error_code(f[3], 4)
    check(name + " -> GOAWAY", f is not None and error_code(f[3], 4) == code, got)
    conn.close()
    fresh = Connection()
    check(name + ": a new connection is served", served(fresh, 1))
    fresh.close()


def main():
    conn = Connection()
    check("a plain GET is served", served(conn, 1))
    check("a second stream on the connection is served", served(conn, 3))
    conn.close()

    # Malformed requests (RFC 9113 §8.1.1): stream errors of type PROTOCOL_ERROR.
    stream_error("upper-case field name", request(1, GET + [("X-Upper", "a")]))
    stream_error("missing :path", request(1, GET[:3]))
    stream_error("empty :path", request(1, GET[:3] + [(":path", "")]))
    stream_error("duplicated :path", request(1, GET + [(":path", "/x")]))
    stream_error("missing :method", request(1, GET[1:]))
    stream_error("missing :scheme", request(1, [GET[0]] + GET[2:]))
    stream_error("unknown pseudo-field", request(1, GET + [(":foo", "bar")]))
    stream_error("pseudo-field after a regular one", request(1, GET[:3] + [("accept", "*/*"), GET[3]]))
    stream_error("connection-specific field", request(1, GET + [("connection", "keep-alive")]))
    stream_error("transfer-encoding field", request(1, GET + [("transfer-encoding", "chunked")]))
    stream_error("te other than trailers", request(1, GET + [("te", "gzip")]))
    stream_error("content-length not matching the DATA",
                 request(1, GET + [("content-length", "5")], END_HEADERS) + frame(DATA, END_STREAM, 1, b"abc"))
    stream_error("Host naming another authority than :authority", request(1, GET + [("host", "elsewhere")]))
    stream_error("two Host fields without :authority", request(1, [GET[0], GET[1], GET[3], ("host", "t"), ("host", "t")]))
    conn = Connection()
    conn.send(request(1, GET + [("host", "T:80")]))
    answer = conn.wait_for(lambda f: f[2] == 1 and f[0] in (HEADERS, RST_STREAM))
    check("a Host naming :authority's host with a port and in capitals is served",
          answer is not None and answer[0] == HEADERS, "answer %s" % (answer,))
    conn.close()
    stream_error("field value with a NUL", request(1, GET + [("x-a", "a\x00b")]))
    # nghttp2's message quotes the value: the error log must escape it, not forge a line.
    stream_error("field value with a line feed", request(1, GET + [("x-a", "a\n2026 [crit] forged \x1b[31m")]))

    # Connection errors (RFC 9113 §5.4.1, RFC 7541): GOAWAY with the code the RFC names.
    connection_error("DATA on an idle stream", frame(DATA, 0, 5, b"x"), PROTOCOL_ERROR)
    connection_error("HEADERS on an even stream", request(2), PROTOCOL_ERROR)
    connection_error("a frame above the maximum size", frame(DATA, 0, 1, b"x" * 16385), FRAME_SIZE_ERROR)
    connection_error("WINDOW_UPDATE past 2^31-1",
                     frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF)) * 2, FLOW_CONTROL_ERROR)
    connection_error("SETTINGS_INITIAL_WINDOW_SIZE past 2^31-1",
                     frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0x80000000)), FLOW_CONTROL_ERROR)
    connection_error("SETTINGS with a length not a multiple of 6", frame(SETTINGS, 0, 0, b"\x00\x04\x00"),
                     FRAME_SIZE_ERROR)
    connection_error("PING of the wrong length", frame(PING, 0, 0, b"x" * 7), FRAME_SIZE_ERROR)
    connection_error("a table size update after a field",
                     frame(HEADERS, END_STREAM | END_HEADERS, 1, block(GET) + hpack_int(0, 5, 0x20)),
                     COMPRESSION_ERROR)
    connection_error("a table size update above the advertised size",
                     frame(HEADERS, END_STREAM | END_HEADERS, 1, hpack_int(1 << 20, 5, 0x20) + block(GET)),
                     COMPRESSION_ERROR)
    connection_error("an index past the tables", frame(HEADERS, END_STREAM | END_HEADERS, 1, hpack_int(300, 7, 0x80)),
                     COMPRESSION_ERROR)
    # RFC 7541 §5.2: Huffman padding longer than 7 bits, or holding EOS, is a decoding
    # error. "a" is 00011 in the code; 00011111 pads it with three 1-bits (valid), and one
    # more 0xff byte makes the padding 11 bits.
    huffman = lambda data: b"\x00" + hpack_int(3, 7) + b"x-a" + hpack_int(len(data), 7, 0x80) + data
    stream_ok = Connection()
    stream_ok.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(GET) + huffman(b"\x1f")))
    check("a Huffman value with valid padding is served", served(stream_ok, 3))
    stream_ok.close()
    connection_error("Huffman padding longer than 7 bits",
                     frame(HEADERS, END_STREAM | END_HEADERS, 1, block(GET) + huffman(b"\x1f\xff")), COMPRESSION_ERROR)
    connection_error("CONTINUATION without HEADERS", frame(CONTINUATION, END_HEADERS, 1, block(GET)), PROTOCOL_ERROR)

    # A request with a body the server does not want: answered, then RST_STREAM NO_ERROR
    # so the client stops sending (RFC 9113 §8.1).
    conn = Connection()
    conn.send(request(1, [(":method", "POST")] + GET[1:], END_HEADERS) + frame(DATA, 0, 1, b"x" * 100))
    f = conn.wait_for(lambda f: f[2] == 1 and f[0] == RST_STREAM)
    check("a body still coming after the response -> RST_STREAM NO_ERROR",
          f is not None and error_code(f[3], 0) == NO_ERROR, "closed" if f is None else "code %d" % error_code(f[3], 0))
    check("... and the connection goes on", served(conn, 3))
    conn.close()

    # HEAD: HEADERS that end the stream, and no DATA.
    conn = Connection()
    conn.send(request(1, [(":method", "HEAD")] + GET[1:]))
    f = conn.wait_for(lambda f: f[2] == 1 and f[0] in (HEADERS, DATA, RST_STREAM))
    check("HEAD is answered by HEADERS with END_STREAM, no DATA",
          f is not None and f[0] == HEADERS and f[1] & END_STREAM, "got %r" % (f[:2],) if f else "closed")
    conn.close()

    # The preface and the first frames one byte at a time (h2c detection waits for all 24).
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=WAIT)
    for byte in PREFACE + frame(SETTINGS, 0, 0, b"") + request(1):
        sock.sendall(bytes([byte]))
    conn = Connection.__new__(Connection)
    conn.sock, conn.buffer = sock, b""
    f = conn.wait_for(lambda f: f[2] == 1 and f[0] in (HEADERS, RST_STREAM))
    check("a preface sent one byte at a time", f is not None and f[0] == HEADERS)
    conn.close()

    # A bad preface gets nothing but the close.
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=WAIT)
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + frame(SETTINGS, 0, 0, b""))
    check("a bad preface closes the connection", closed_by_server(sock), "still open after %.0f s" % WAIT)
    sock.close()
    fresh = Connection()
    check("after a bad preface a new connection is served", served(fresh, 1))
    fresh.close()

    if IDLE is not None:  # an idle connection is told before it is closed
        conn = Connection()
        started = time.monotonic()
        f = conn.wait_for(lambda f: f[0] == GOAWAY)
        check("an idle connection gets GOAWAY NO_ERROR at the keep-alive timeout",
              f is not None and error_code(f[3], 4) == NO_ERROR and time.monotonic() - started < IDLE + 10,
              "closed without GOAWAY" if f is None else "GOAWAY %d" % error_code(f[3], 4))
        check("then the close", conn.next_frame() is None)
        conn.close()

    sys.exit(1 if failures else 0)


def download_through_stop(master, path, size):
    """A download read slowly, 16 KiB of window every 10 ms (longer than the server's
    keep-alive timeout in all: a moving download is not idle); once it has begun the
    server is told to stop (SIGTERM). The stream must finish whole, then GOAWAY NO_ERROR."""
    import os
    import signal
    conn = Connection()
    conn.send(request(1, GET[:3] + [(":path", path)]))
    received, stopped, goaway, ended = 0, False, None, False
    while True:
        f = conn.next_frame()
        if f is None:
            break
        kind, flags, stream, payload = f
        if kind == DATA and stream == 1:
            received += len(payload)
            if payload:  # give back what was read, slowly
                time.sleep(0.01 * len(payload) / 16384)
                conn.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(payload))) +
                          frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", len(payload))))
            if not stopped:
                os.kill(master, signal.SIGTERM)
                stopped = True
            ended = ended or bool(flags & END_STREAM)
        elif kind == RST_STREAM:
            break
        elif kind == GOAWAY:
            goaway = error_code(payload, 4)
    check("the download finished whole through the stop", ended and received == size,
          "%d of %d bytes, END_STREAM %s" % (received, size, ended))
    check("then GOAWAY NO_ERROR", goaway == NO_ERROR, "GOAWAY %s" % goaway)
    sys.exit(1 if failures else 0)


def dependent_stream(path, size, small_path, small_size):
    """A browser's pattern: stream 3 depends exclusively on stream 1 (RFC 7540 priority,
    which nghttp2 applies), so it waits while stream 1 downloads. Windows are wide open
    and the client reads slowly (a small receive buffer, 16 KiB every 10 ms), for longer
    than two of the server's stall periods: waiting its turn is not a stall, and neither
    stream may be reset."""
    conn = Connection(receive_buffer=32768)
    conn.send(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0x7FFFFFFF)) +
              frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF - 65535)))
    conn.send(request(1, GET[:3] + [(":path", path)]))
    exclusive_on_1 = struct.pack(">I", 0x80000000 | 1) + bytes([255])
    conn.send(frame(HEADERS, END_STREAM | END_HEADERS | 0x20, 3, exclusive_on_1 + block(GET[:3] + [(":path", small_path)])))
    received, ended, reset = {1: 0, 3: 0}, set(), None
    start = time.monotonic()
    while len(ended) < 2 and reset is None:
        f = conn.next_frame()
        if f is None:
            break
        kind, flags, stream, payload = f
        if kind == DATA and stream in received:
            received[stream] += len(payload)
            time.sleep(0.01 * len(payload) / 16384)
        if kind in (HEADERS, DATA) and flags & END_STREAM:
            ended.add(stream)
        if kind == RST_STREAM:
            reset = "RST_STREAM %d on stream %d" % (error_code(payload, 0), stream)
    elapsed = time.monotonic() - start
    check("the slow download finished whole (%.1f s)" % elapsed, 1 in ended and received[1] == size,
          "%d of %d bytes; %s" % (received[1], size, reset))
    check("the stream waiting behind it was not reset, and then served", 3 in ended and received[3] == small_size,
          "%d of %d bytes; %s" % (received[3], small_size, reset))
    sys.exit(1 if failures else 0)


def split_head(stream, fields, first_bytes=5):
    """A request's header block in two frames: HEADERS without END_HEADERS, then CONTINUATION."""
    payload = block(fields)
    return (frame(HEADERS, END_STREAM, stream, payload[:first_bytes]),
            frame(CONTINUATION, END_HEADERS, stream, payload[first_bytes:]))


def frames_for(conn, seconds):
    """Every frame the server sends within `seconds`; None last if it closed meanwhile."""
    got, end = [], time.monotonic() + seconds
    while True:
        while len(conn.buffer) >= 9 and len(conn.buffer) >= 9 + int.from_bytes(conn.buffer[:3], "big"):
            got.append(conn.next_frame())  # complete in the buffer: no read
        left = end - time.monotonic()
        if left <= 0:
            return got
        conn.sock.settimeout(left)
        try:
            chunk = conn.sock.recv(65536)
        except socket.timeout:
            chunk = None
        except OSError:
            chunk = b""
        finally:
            conn.sock.settimeout(WAIT)
        if chunk is None:
            return got
        if not chunk:
            got.append(None)
            return got
        conn.buffer += chunk


def split_heads_pin(path):
    """Stream 1's window stays shut (SETTINGS_INITIAL_WINDOW_SIZE 0) while a new request
    arrives every 0.5 s, each split across two reads: the stall watch must still reset
    stream 1 (a header block in progress must not restart it)."""
    conn = Connection()
    conn.send(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0)))
    conn.send(request(1, GET[:3] + [(":path", path)]))
    frames_for(conn, 0.3)  # the server's SETTINGS, acknowledged now: nothing may come inside a header block
    start, stream, reset = time.monotonic(), 3, None
    while reset is None and time.monotonic() - start < 20:
        first, rest = split_head(stream, [(":method", "HEAD")] + GET[1:])
        conn.send(first)
        frames = frames_for(conn, 0.2)
        conn.send(rest)
        frames += frames_for(conn, 0.3)
        stream += 2
        if None in frames:
            break
        reset = next((f for f in frames if f[0] == RST_STREAM and f[2] == 1), None)
    check("a stream with its window shut is reset although split requests keep coming (%.1f s)" %
          (time.monotonic() - start), reset is not None and error_code(reset[3], 0) == 8, "no RST_STREAM CANCEL in 20 s")
    sys.exit(1 if failures else 0)


def back_to_back_heads():
    """Each write completes one request's header block and begins the next, for three
    header timeouts: every head completes at once, so none may be cut."""
    conn = Connection()
    frames_for(conn, 0.2)
    stream, answered, closed = 1, 0, False
    first, rest = split_head(stream, [(":method", "HEAD")] + GET[1:])
    conn.send(first)
    start = time.monotonic()
    while time.monotonic() - start < 6:
        next_first, next_rest = split_head(stream + 2, [(":method", "HEAD")] + GET[1:])
        conn.send(rest + next_first)
        frames = frames_for(conn, 0.2)
        closed = closed or None in frames or any(f[0] == GOAWAY for f in frames if f)
        answered += sum(1 for f in frames if f and f[0] == HEADERS)
        stream, rest = stream + 2, next_rest
        if closed:
            break
    check("back-to-back header blocks, each complete at once, are not cut by the header timeout",
          not closed and answered > 10, "%d answered, closed %s after %.1f s" % (answered, closed, time.monotonic() - start))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] == "download-through-stop":
        download_through_stop(int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) > 2 and sys.argv[2] == "dependent-stream":
        dependent_stream(sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6]))
    elif len(sys.argv) > 2 and sys.argv[2] == "split-heads-pin":
        split_heads_pin(sys.argv[3])
    elif len(sys.argv) > 2 and sys.argv[2] == "back-to-back-heads":
        back_to_back_heads()
    else:
        main()
