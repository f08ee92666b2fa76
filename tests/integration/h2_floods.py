#!/usr/bin/env python3
"""Published HTTP/2 floods against a running pywebd h2c listener on 127.0.0.1, each
while a normal HTTP/1.1 client is timed alongside on the same (single) worker.

Usage: h2_floods.py PORT TIMEOUT_SECONDS  (the server's timeouts.keepalive and .send)
       h2_floods.py PORT TIMEOUT_SECONDS bomb-blocks N  (N connections, one HPACK bomb
       block each, read until the server's GOAWAY: for the caller to measure its CPU)

For each attack: the attacker's connection must end with GOAWAY ENHANCE_YOUR_CALM
(or, for the stalls, its streams be reset and the connection closed by the server's
timers), within a bounded number of frames; every probe request must succeed, with a median latency under 10 ms
during the attack. Prints one line per attack with the attack rate and the probe's
median and p99; exits 1 if any failed.
"""
import socket
import statistics
import struct
import sys
import threading
import time

from h2_frames import (DATA, END_HEADERS, END_STREAM, GET, HEADERS, CONTINUATION, PING, PRIORITY, RST_STREAM,
                       SETTINGS, WINDOW_UPDATE, GOAWAY, Connection, block, closed_by_server, error_code, frame,
                       hpack_int, request)

PORT = int(sys.argv[1])
KEEPALIVE = float(sys.argv[2])
ENHANCE_YOUR_CALM = 11
MAX_SECONDS = 20.0  # no attack may run longer than this
failures = []


class Probe(threading.Thread):
    """A normal client: one keep-alive HTTP/1.1 connection, a request every 5 ms."""

    def __init__(self):
        super().__init__(daemon=True)
        self.latencies, self.errors, self.stopping = [], 0, False

    def run(self):
        sock = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        while not self.stopping:
            start = time.monotonic()
            try:
                sock.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                data = b""
                while not data.endswith(b"hello\n"):
                    chunk = sock.recv(4096)
                    if not chunk:
                        raise ConnectionError("closed")
                    data += chunk
                self.latencies.append(time.monotonic() - start)
            except (OSError, ConnectionError):
                self.errors += 1
                sock = socket.create_connection(("127.0.0.1", PORT), timeout=5)
            time.sleep(0.005)


def attack(name, opening, repeat, want_codes=(ENHANCE_YOUR_CALM,), max_frames=200000):
    """Sends `opening`, then `repeat(i)` in batches until the server ends the connection."""
    probe = Probe()
    probe.start()
    time.sleep(0.2)
    conn = Connection()
    conn.sock.settimeout(0.001)
    conn.send(opening)
    sent, started, outcome = 0, time.monotonic(), None
    try:
        while sent < max_frames and time.monotonic() - started < MAX_SECONDS and outcome is None:
            batch = b"".join(repeat(sent + i) for i in range(100))
            conn.sock.settimeout(5)
            conn.sock.sendall(batch)
            sent += 100
            conn.sock.settimeout(0.001)
            try:
                chunk = conn.sock.recv(1 << 20)
                if not chunk:
                    outcome = "closed"
                conn.buffer += chunk
            except socket.timeout:
                pass
            outcome = outcome or goaway_in(conn)
    except (BrokenPipeError, ConnectionResetError):
        outcome = "closed"
    conn.sock.settimeout(5)
    if outcome is None or outcome == "closed":
        outcome = goaway_in(conn, drain=True) or outcome
    elapsed = time.monotonic() - started
    probe.stopping = True
    probe.join()
    report(name, outcome, sent, elapsed, probe, [code_name(c) for c in want_codes])


def goaway_in(conn, drain=False):
    """'GOAWAY <code>' if the frames received so far hold one."""
    while True:
        if len(conn.buffer) >= 9:
            length = int.from_bytes(conn.buffer[:3], "big")
            if len(conn.buffer) >= 9 + length:
                kind, payload = conn.buffer[3], conn.buffer[9:9 + length]
                conn.buffer = conn.buffer[9 + length:]
                if kind == GOAWAY:
                    return "GOAWAY " + code_name(error_code(payload, 4))
                continue
        if not drain:
            return None
        try:
            chunk = conn.sock.recv(1 << 20)
        except (socket.timeout, ConnectionResetError):
            return None
        if not chunk:
            return None
        conn.buffer += chunk


def code_name(code):
    return {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 11: "ENHANCE_YOUR_CALM"}.get(code, str(code))


def report(name, outcome, sent, elapsed, probe, wanted):
    lat = sorted(probe.latencies)
    median = statistics.median(lat) * 1000 if lat else float("inf")
    p99 = lat[int(len(lat) * 0.99) - 1] * 1000 if lat else float("inf")
    ok = outcome is not None and outcome.replace("GOAWAY ", "") in wanted and probe.errors == 0 and median < 10
    print("%s %s: %s after %d frames in %.2f s (%.0f frames/s); probe %d requests, %d errors, median %.2f ms, "
          "p99 %.2f ms" % ("ok  " if ok else "FAIL", name, outcome, sent, elapsed, sent / max(elapsed, 1e-6),
                           len(lat), probe.errors, median, p99))
    if not ok:
        failures.append(name)


def stall():
    """A reader that opens no window: the stall watch resets its stream, then the idle
    connection is closed at the keep-alive timeout; others are served meanwhile."""
    probe = Probe()
    probe.start()
    conn = Connection()
    conn.send(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0)) + request(1, GET[:3] + [(":path", "/big.bin")]))
    started = time.monotonic()
    conn.sock.settimeout(KEEPALIVE * 4 + 10)
    closed = closed_by_server(conn.sock)
    elapsed = time.monotonic() - started
    probe.stopping = True
    probe.join()
    lat = sorted(probe.latencies)
    median = statistics.median(lat) * 1000 if lat else float("inf")
    ok = closed and elapsed < KEEPALIVE * 4 + 5 and probe.errors == 0 and median < 10
    print("%s zero-window stall: %s after %.1f s (keep-alive %.0f s); probe %d requests, %d errors, median %.2f ms" %
          ("ok  " if ok else "FAIL", "closed by the server" if closed else "still open", elapsed, KEEPALIVE, len(lat),
           probe.errors, median))
    if not ok:
        failures.append("stall")


def pinned_streams():
    """Streams a client opens no window for, with a new request every 0.3 s so the
    connection never looks idle: each stalled stream is still reset (CANCEL) by the
    stall watch (every timeouts.send, here KEEPALIVE seconds), so none holds its file."""
    probe = Probe()
    probe.start()
    conn = Connection()
    big = GET[:3] + [(":path", "/big.bin")]
    conn.send(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0)) + request(1, big))
    conn.sock.settimeout(0.05)
    started, stream, reset_first, next_request = time.monotonic(), 3, None, time.monotonic() + 0.3
    while time.monotonic() - started < KEEPALIVE * 4 + 5 and reset_first is None:
        try:
            conn.buffer += conn.sock.recv(65536)
        except socket.timeout:
            pass
        while len(conn.buffer) >= 9 and len(conn.buffer) >= 9 + int.from_bytes(conn.buffer[:3], "big"):
            length = int.from_bytes(conn.buffer[:3], "big")
            kind, sid, payload = conn.buffer[3], int.from_bytes(conn.buffer[5:9], "big"), conn.buffer[9:9 + length]
            conn.buffer = conn.buffer[9 + length:]
            if kind == RST_STREAM and sid == 1:
                reset_first = (error_code(payload, 0), time.monotonic() - started)
        if time.monotonic() >= next_request:  # a new request every 0.3 s keeps the connection busy
            conn.send(request(stream, big))
            stream += 2
            next_request += 0.3
    probe.stopping = True
    probe.join()
    lat = sorted(probe.latencies)
    median = statistics.median(lat) * 1000 if lat else float("inf")
    ok = reset_first is not None and reset_first[0] == 8 and probe.errors == 0 and median < 10
    print("%s pinned streams: %s; probe %d requests, %d errors, median %.2f ms" % (
        "ok  " if ok else "FAIL",
        "first stream reset (code %d) after %.1f s, %d streams opened" % (reset_first[0], reset_first[1], stream // 2)
        if reset_first else "first stream never reset", len(lat), probe.errors, median))
    if not ok:
        failures.append("pinned")
    conn.close()


def dribble():
    """Data dribble (CVE-2019-9511): windows of one byte, each DATA frame answered with a
    WINDOW_UPDATE of one byte, so the server makes a frame (and a write) per byte. Those
    updates acknowledge DATA, but one-byte frames must earn no exemption from the limit."""
    probe = Probe()
    probe.start()
    time.sleep(0.2)
    big = [(":method", "GET"), (":scheme", "http"), (":authority", "t"), (":path", "/big.bin")]
    conn = Connection()
    conn.sock.settimeout(5)
    conn.send(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 1)) + b"".join(request(2 * i + 1, big) for i in range(20)))
    sent, started, outcome = 0, time.monotonic(), None
    try:
        while outcome is None and sent < 200000 and time.monotonic() - started < MAX_SECONDS:
            f = conn.next_frame()
            if f is None:
                outcome = "closed"
            elif f[0] == GOAWAY:
                outcome = "GOAWAY " + code_name(error_code(f[3], 4))
            elif f[0] == DATA and f[3]:
                update = struct.pack(">I", len(f[3]))
                conn.send(frame(WINDOW_UPDATE, 0, f[2], update) + frame(WINDOW_UPDATE, 0, 0, update))
                sent += 1
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        outcome = outcome or "closed"
    elapsed = time.monotonic() - started
    probe.stopping = True
    probe.join()
    report("data dribble (1-byte windows)", outcome, sent, elapsed, probe, ["ENHANCE_YOUR_CALM"])


def bomb_blocks(count):
    """Each connection sends one header block that defines a 4000-byte entry and then
    references it 12,000 times (48 MB decoded from 28 KB), and waits for the GOAWAY."""
    entry = b"\x40" + hpack_int(5, 7) + b"x-big" + hpack_int(4000, 7) + b"b" * 4000
    payload = block(GET) + entry + b"\xbe" * 12000
    for _ in range(count):
        conn = Connection()
        conn.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, payload[:16384]) +
                  frame(CONTINUATION, END_HEADERS, 1, payload[16384:]))
        goaway = conn.wait_for(lambda f: f[0] == GOAWAY)
        if goaway is None or error_code(goaway[3], 4) != ENHANCE_YOUR_CALM:
            print("FAIL HPACK bomb block: no GOAWAY ENHANCE_YOUR_CALM")
            sys.exit(1)
        conn.close()
    print("ok   %d HPACK bomb blocks, each answered with GOAWAY ENHANCE_YOUR_CALM" % count)


def main():
    if len(sys.argv) == 5 and sys.argv[3] == "bomb-blocks":
        return bomb_blocks(int(sys.argv[4]))
    odd = lambda i: 2 * i + 1
    attack("Rapid Reset (HEADERS + RST_STREAM)", b"",
           lambda i: request(odd(i)) + frame(RST_STREAM, 0, odd(i), struct.pack(">I", 8)))
    attack("PING flood", b"", lambda i: frame(PING, 0, 0, struct.pack(">Q", i)))
    attack("SETTINGS flood", b"", lambda i: frame(SETTINGS, 0, 0, struct.pack(">HI", 3, 100)))
    attack("WINDOW_UPDATE flood", b"", lambda i: frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1)))
    dribble()
    attack("PRIORITY flood", b"", lambda i: frame(PRIORITY, 0, odd(i), struct.pack(">IB", 0, 15)))
    attack("empty DATA flood", request(1, flags=END_HEADERS), lambda i: frame(DATA, 0, 1, b""))
    # CONTINUATION flood: one header block that never ends.
    attack("CONTINUATION flood", request(1, flags=END_STREAM),
           lambda i: frame(CONTINUATION, 0, 1, block([("x-c%d" % i, "v")])))
    # HPACK bomb: a 4000-byte value put in the table once, then referenced (index 62)
    # on every stream as many times as a frame holds.
    entry = b"\x40" + hpack_int(5, 7) + b"x-big" + hpack_int(4000, 7) + b"b" * 4000
    attack("HPACK bomb", frame(HEADERS, END_STREAM | END_HEADERS, 1, block(GET) + entry),
           lambda i: frame(HEADERS, END_STREAM | END_HEADERS, odd(i + 1), block(GET) + b"\xbe" * 16000))
    # Too many streams: opened and never finished, past max_concurrent_streams; the
    # excess is refused stream by stream and counted as resets of its own.
    attack("too many streams", b"", lambda i: request(odd(i), flags=END_HEADERS), max_frames=20000)
    stall()
    pinned_streams()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
