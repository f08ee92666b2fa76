#!/usr/bin/env python3
"""Scripted TLS edge cases against a running pywebd TLS listener on 127.0.0.1.

Usage: tls_edge_cases.py PORT CA_FILE HEADER_TIMEOUT_SECONDS

Each case talks to the server at the byte level (Python's ssl module drives the
handshake through memory BIOs, so the bytes can be split, cut or corrupted), checks
what the server did, and then checks that a normal HTTPS request is still answered.
Prints one line per case; exits 1 if any case failed.
"""
import os
import socket
import ssl
import struct
import sys
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1: we use it to be refused

PORT = int(sys.argv[1])
CA_FILE = sys.argv[2]
HEADER_TIMEOUT = float(sys.argv[3])
WAIT = 15.0  # a generous bound for anything the server should do "at once"
failures = []


def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=WAIT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def client_context(**versions):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(CA_FILE)
    for name, value in versions.items():
        setattr(context, name, value)
    return context


def client_hello(context=None):
    """The bytes of a ClientHello for 'localhost', and the in-memory client that made it."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = (context or client_context()).wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read(), tls, incoming, outgoing


def closed_by_server(s, within):
    """True if the server ends the connection (FIN or RST) within `within` seconds."""
    s.settimeout(within)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def finish_handshake(s, tls, incoming, outgoing):
    """Pumps bytes between the socket and the in-memory client until the handshake ends."""
    while True:
        try:
            tls.do_handshake()
            pending = outgoing.read()
            if pending:
                s.sendall(pending)
            return
        except ssl.SSLWantReadError:
            pending = outgoing.read()
            if pending:
                s.sendall(pending)
            data = s.recv(65536)
            if not data:
                raise ConnectionError("server closed during the handshake")
            incoming.write(data)


def request_over(s, tls, incoming, outgoing):
    tls.write(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    s.sendall(outgoing.read())
    answer = b""
    while True:
        try:
            chunk = tls.read(65536)
            if not chunk:
                break
            answer += chunk
        except ssl.SSLWantReadError:
            data = s.recv(65536)
            if not data:
                break
            incoming.write(data)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
    return answer


def normal_request():
    with socket.create_connection(("127.0.0.1", PORT), timeout=WAIT) as raw:
        with client_context().wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            answer = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
            return answer


def case(name):
    def run(function):
        try:
            problem = function()
        except Exception as error:  # a case that blows up is a failed case, not a crash of the script
            problem = f"{type(error).__name__}: {error}"
        if problem is None:
            try:
                answer = normal_request()
                if not answer.startswith(b"HTTP/1.1 200") or not answer.endswith(b"hello\n"):
                    problem = f"the next normal request got {answer[:60]!r}"
            except Exception as error:
                problem = f"the next normal request failed: {error}"
        print(f"{'ok  ' if problem is None else 'FAIL'} {name}" + ("" if problem is None else f": {problem}"))
        if problem is not None:
            failures.append(name)
        return function
    return run


@case("a ClientHello split into 1-byte writes completes the handshake and is answered")
def split_client_hello():
    hello, tls, incoming, outgoing = client_hello()
    with connect() as s:
        for i in range(len(hello)):
            s.sendall(hello[i:i + 1])
            time.sleep(0.001)
        finish_handshake(s, tls, incoming, outgoing)
        answer = request_over(s, tls, incoming, outgoing)
    if not answer.startswith(b"HTTP/1.1 200") or not answer.endswith(b"hello\n"):
        return f"got {answer[:80]!r}"
    return None


@case("the rest of the handshake and the request split into 1-byte writes (TLS 1.2)")
def split_everything_tls12():
    context = client_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    hello, tls, incoming, outgoing = client_hello(context)
    with connect() as s:
        for byte in hello:
            s.sendall(bytes([byte]))
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                for byte in outgoing.read():
                    s.sendall(bytes([byte]))
                data = s.recv(65536)
                if not data:
                    return "closed during the handshake"
                incoming.write(data)
        for byte in outgoing.read():
            s.sendall(bytes([byte]))
        tls.write(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        for byte in outgoing.read():
            s.sendall(bytes([byte]))
        answer = b""
        while not answer.endswith(b"hello\n"):
            try:
                answer += tls.read(65536)
            except ssl.SSLWantReadError:
                data = s.recv(65536)
                if not data:
                    break
                incoming.write(data)
    if not answer.startswith(b"HTTP/1.1 200"):
        return f"got {answer[:80]!r}"
    return None


@case("garbage inside a handshake record ends only that connection")
def garbage_record():
    with connect() as s:
        s.sendall(b"\x16\x03\x01\x00\x20" + os.urandom(32))
        if not closed_by_server(s, WAIT):
            return "still open"
    return None


@case("random bytes after a valid record header end only that connection")
def random_bytes():
    with connect() as s:
        s.sendall(b"\x16" + os.urandom(4096))
        if not closed_by_server(s, WAIT):
            return "still open"
    return None


@case("a truncated ClientHello and a close mid-handshake (50 times, some with RST)")
def abrupt_closes():
    hello = client_hello()[0]
    for i in range(50):
        s = connect()
        s.sendall(hello[: len(hello) // 2 if i % 3 else len(hello)])
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    return None


@case("a record longer than TLS allows is refused")
def oversized_record():
    with connect() as s:
        s.sendall(b"\x16\x03\x01\xff\xff" + b"\x01" + b"\x00" * 64)
        if not closed_by_server(s, WAIT):
            return "still open"
    return None


@case("an oversized ClientHello (1 MiB claimed, sent in full records) is refused")
def oversized_client_hello():
    with connect() as s:
        body = b"\x01\x10\x00\x00" + b"\x03\x03" + os.urandom(16378)  # handshake header: ClientHello of 1 MiB
        try:
            for _ in range(64):
                s.sendall(b"\x16\x03\x01" + struct.pack(">H", len(body)) + body)
                body = os.urandom(16384)
        except (BrokenPipeError, ConnectionResetError):
            return None  # refused before we finished sending it
        if not closed_by_server(s, WAIT):
            return "still open"
    return None


@case("a handshake that stalls is cut at the header timeout")
def stalled_handshake():
    hello = client_hello()[0]
    with connect() as s:
        s.sendall(hello[:20])
        start = time.monotonic()
        if not closed_by_server(s, HEADER_TIMEOUT + WAIT):
            return "still open long after the header timeout"
        took = time.monotonic() - start
        if took < HEADER_TIMEOUT * 0.5:
            return f"closed after {took:.2f}s, before the header timeout of {HEADER_TIMEOUT}s"
    return None


@case("a client that connects and sends nothing is cut at the header timeout")
def silent_client():
    with connect() as s:
        start = time.monotonic()
        if not closed_by_server(s, HEADER_TIMEOUT + WAIT):
            return "still open long after the header timeout"
        if time.monotonic() - start < HEADER_TIMEOUT * 0.5:
            return "closed before the header timeout"
    return None


@case("TLS 1.1 is refused with a protocol alert")
def tls11_refused():
    context = client_context(minimum_version=ssl.TLSVersion.TLSv1_1, maximum_version=ssl.TLSVersion.TLSv1_1)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # our side would speak it: the refusal must be the server's
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=WAIT) as raw:
            with context.wrap_socket(raw, server_hostname="localhost"):
                return "a TLS 1.1 handshake succeeded"
    except ssl.SSLError as error:
        if "PROTOCOL" not in error.reason.upper() and "VERSION" not in error.reason.upper():
            return f"refused for another reason: {error.reason}"
    return None


@case("plain HTTP to the TLS port gets a 400 that says so")
def plain_http():
    with connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer = b""
        s.settimeout(WAIT)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    if not answer.startswith(b"HTTP/1.1 400") or b"plain HTTP request was sent to an HTTPS port" not in answer:
        return f"got {answer[:120]!r}"
    return None


sys.exit(1 if failures else 0)
