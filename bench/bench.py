#!/usr/bin/env python3
"""pywebd against nginx (and the floor, and optionally lighttpd and h2o) on this machine.

With --tls every server listens with TLS instead, with the same ECDSA P-256 certificate,
TLS 1.2 and 1.3, the same TLS 1.2 cipher string and server preference; the clients offer
only AES-128-GCM (an OpenSSL config given to them alone), so every server negotiates the
same cipher. The HTTPS scenarios: (a) 1 KiB over 64 keep-alive connections, (b) a full
TLS 1.3 handshake per request, (c) a resumed one per request, (d) 10 MiB over 8
connections, (e) memory per idle TLS connection.

With --h2 the servers speak HTTP/2 over TLS (same certificate and ciphers) to nghttp2's
h2load: (a) the 1 KiB file, 16 connections with 32 streams each in flight, (b) a page
load: 100 distinct 4 KiB files per connection, 8 connections with 100 streams each,
(c) 10 MiB, 4 connections. Against nginx and h2o, which are the HTTP/2 peers here.

With --compression the servers compress a 64 KiB JavaScript file (generated text that
compresses like real code) on the fly for wrk, which sends an Accept-Encoding: (g) gzip,
against nginx's gzip on (gzip_comp_level 6, the level pywebd uses), (h) "br, gzip" (a
browser's choice: brotli from pywebd, gzip from nginx-light, which has no brotli),
(i) zstd (pywebd alone: nginx answers with the file itself). pywebd keeps each variant
once made (cache.compressed); nginx compresses every response. The bytes one response
puts on the wire are reported beside the CPU figures.

Every server gets the same generated document root, the same worker count, access logs
off (scenario f: on, to a file), sendfile and keep-alive on. Measurements are
interleaved (round 1: A B C, round 2: A B C, ...) and each figure is the median over the
rounds, also given as a ratio to nginx and to the floor. Servers run pinned to the last
CPU, wrk and the connection holder to CPU 0.

Server CPU time comes from /proc/<pid>/task/*/schedstat of every process of the server
(nanoseconds on CPU), memory from /proc/<pid>/smaps_rollup (PSS).
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KIB = 1024


def processes_in_group(pgid):
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(name))
        except (OSError, IndexError, ValueError):
            pass
    return pids


def cpu_ns(pids):
    total = 0
    for pid in pids:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def pss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_for_port(port, timeout=10.0):
    import socket
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


TLS12_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                 "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
TLS13_SUITES = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"


class Tls:
    """The certificate every server uses, and the OpenSSL config only the clients read."""

    def __init__(self, workdir):
        self.cert, self.key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", self.key, "-out", self.cert, "-days", "90", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True)
        self.client_conf = os.path.join(workdir, "client-openssl.cnf")
        with open(self.client_conf, "w") as f:
            f.write("openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = client\n"
                    "[client]\nCiphersuites = TLS_AES_128_GCM_SHA256\nCipherString = ECDHE-ECDSA-AES128-GCM-SHA256\n")

    def client_env(self):
        return dict(os.environ, OPENSSL_CONF=self.client_conf)


class Server:
    """One server under test, started in its own process group."""

    def __init__(self, name, workdir, port, root, workers, access_log, pin, tls=None):
        self.name, self.workdir, self.port, self.root = name, workdir, port, root
        self.workers, self.access_log, self.pin, self.tls = workers, access_log, pin, tls
        self.h2 = False  # HTTP/2 on the TLS listener where the server needs to be told (nginx)
        self.compression = False  # nginx: gzip on (bench --compression)
        self.process = None

    def command(self):
        raise NotImplementedError

    def start(self):
        cmd = self.command()
        if self.pin is not None:
            cmd = ["taskset", "-c", str(self.pin)] + cmd
        log = open(os.path.join(self.workdir, f"{self.name}.out"), "w")
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                        cwd=self.workdir)
        if not wait_for_port(self.port):
            raise RuntimeError(f"{self.name} did not start; see {log.name}")
        time.sleep(0.3)

    def pids(self):
        return processes_in_group(self.process.pid)

    def worker_pids(self):
        return [p for p in self.pids() if p != self.process.pid]

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class Pywebd(Server):
    binary = os.path.join(TOP, "build-bench/src/master/pywebd")

    def command(self):
        conf = os.path.join(self.workdir, f"{self.name}.yaml")
        user = "user: root\n" if os.geteuid() == 0 else ""
        log = f"access_log: {self.access_log}\n" if self.access_log else "access_log: off\n"
        listen = (f"[{{address: \"127.0.0.1:{self.port}\", tls: true}}]" if self.tls else
                  f"[\"127.0.0.1:{self.port}\"]")
        tls = (f"tls:\n  certificates: [{{certificate: {self.tls.cert}, key: {self.tls.key}}}]\n" if self.tls else "")
        with open(conf, "w") as f:
            f.write(f"listen: {listen}\nroot: {self.root}\nworkers: {self.workers}\n"
                    f"error_log: {self.name}-error.log\nlog_level: warn\n{log}{user}{tls}"
                    "limits:\n  max_connections: 20000\n" + self.sites_yaml())
        return [self.binary, "-c", conf]

    def sites_yaml(self):
        """--sites N: N virtual hosts, the client's Host (127.0.0.1) the last one's name."""
        count = getattr(self, "sites", 0)
        if not count:
            return ""
        lines = ["sites:"]
        for i in range(count - 1):
            lines.append(f"  - {{names: [site-{i}.example, \"*.site-{i}.example\"], root: {self.root}}}")
        lines.append(f"  - {{names: [\"127.0.0.1\"], root: {self.root}}}")
        return "\n".join(lines) + "\n"


class PywebdSites(Pywebd):
    """pywebd with --sites N virtual hosts configured, measured beside the one-site pywebd."""


class PywebdBaseline(Pywebd):
    """An earlier pywebd (bench/run --baseline REV), measured in the same rounds."""
    binary = os.path.join(TOP, "build-bench-base/src/master/pywebd")


class Nginx(Server):
    def command(self):
        conf = os.path.join(self.workdir, f"{self.name}.conf")
        log = f"access_log {self.access_log};" if self.access_log else "access_log off;"
        user = "user root;" if os.geteuid() == 0 else ""
        with open(conf, "w") as f:
            f.write(f"""{user}
worker_processes {self.workers};
worker_rlimit_nofile 19000;
daemon off;
pid {self.workdir}/{self.name}.pid;
error_log {self.workdir}/{self.name}-error.log warn;
events {{ worker_connections 18000; use epoll; }}
http {{
    types {{ application/octet-stream bin; text/html html; application/javascript js; }}
    {"gzip on; gzip_comp_level 6; gzip_min_length 256; gzip_types application/javascript;" if self.compression else ""}
    default_type application/octet-stream;
    {log}
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_timeout 65; keepalive_requests 100000000;
    client_body_temp_path {self.workdir}/nginx-tmp; proxy_temp_path {self.workdir}/nginx-tmp;
    fastcgi_temp_path {self.workdir}/nginx-tmp; uwsgi_temp_path {self.workdir}/nginx-tmp;
    scgi_temp_path {self.workdir}/nginx-tmp;
    server {{ listen 127.0.0.1:{self.port}{(" ssl http2" if self.h2 else " ssl") if self.tls else ""}; root {self.root}; {self.tls_block()} }}
}}
""")
        return ["nginx", "-c", conf, "-p", self.workdir, "-e", f"{self.workdir}/{self.name}-error.log"]


    def tls_block(self):
        if not self.tls:
            return ""
        return (f"ssl_certificate {self.tls.cert}; ssl_certificate_key {self.tls.key}; "
                f"ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers {TLS12_CIPHERS}; ssl_prefer_server_ciphers on; "
                f"ssl_conf_command Ciphersuites {TLS13_SUITES}; ssl_ecdh_curve X25519:prime256v1; "
                "ssl_session_tickets on;")


class Floor(Server):
    def command(self):
        return [os.path.join(TOP, "build-bench/bench/bench_floor"), str(self.port), str(self.workers)]


class Lighttpd(Server):
    def command(self):
        conf = os.path.join(self.workdir, f"{self.name}.conf")
        with open(conf, "w") as f:
            f.write(f"""server.document-root = "{self.root}"
server.bind = "127.0.0.1"
server.port = {self.port}
server.max-worker = {self.workers}
server.max-fds = 19000
server.max-connections = 9000
server.errorlog = "{self.workdir}/{self.name}-error.log"
server.max-keep-alive-requests = 100000000
mimetype.assign = (".bin" => "application/octet-stream", ".html" => "text/html")
""")
            if self.tls:
                f.write(f"""server.modules += ("mod_openssl")
ssl.engine = "enable"
ssl.pemfile = "{self.tls.cert}"
ssl.privkey = "{self.tls.key}"
ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv1.2", "CipherString" => "{TLS12_CIPHERS}",
                            "Ciphersuites" => "{TLS13_SUITES}", "Options" => "ServerPreference",
                            "Groups" => "X25519:P-256")
""")
        return ["lighttpd", "-D", "-f", conf]


class H2o(Server):
    def command(self):
        conf = os.path.join(self.workdir, f"{self.name}.conf")
        with open(conf, "w") as f:
            ssl = (f"""  ssl:
    certificate-file: {self.tls.cert}
    key-file: {self.tls.key}
    minimum-version: TLSv1.2
    cipher-suite: {TLS12_CIPHERS}
    cipher-preference: server
""" if self.tls else "")
            f.write(f"""listen:
  host: 127.0.0.1
  port: {self.port}
{ssl}num-threads: {self.workers}
max-connections: 18000
error-log: {self.workdir}/{self.name}-error.log
hosts:
  default:
    paths:
      /:
        file.dir: {self.root}
""")
        return ["h2o", "-c", conf]


def pinned(cmd, pin):
    return ["taskset", "-c", str(pin)] + cmd if pin is not None else cmd


def wrk(port, path, connections, seconds, pin, close=False, tls=None, accept_encoding=None):
    scheme = "https" if tls else "http"
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", f"{scheme}://127.0.0.1:{port}{path}"]
    if close:
        cmd[1:1] = ["-H", "Connection: close"]
    if accept_encoding:
        cmd[1:1] = ["-H", f"Accept-Encoding: {accept_encoding}"]
    out = subprocess.run(pinned(cmd, pin), capture_output=True, text=True, check=True,
                         env=tls.client_env() if tls else None).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)

    def latency(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        scale = {"us": 1, "ms": 1000, "s": 1e6}[m.group(2)]
        return float(m.group(1)) * scale

    return {"requests": requests, "p50_us": latency(50), "p99_us": latency(99),
            "non_2xx": int(errors.group(1)) if errors else 0, "socket_errors": socket_errors.group(1) if socket_errors else ""}


def tls_load(port, path, connections, seconds, pin, mode, tls):
    """Handshake-bound HTTPS load: a new connection per request, full or resumed."""
    cmd = [os.path.join(TOP, "build-bench/bench/bench_tls_load"), str(port), str(connections), str(seconds), path, mode]
    out = subprocess.run(pinned(cmd, pin), capture_output=True, text=True, check=True, env=tls.client_env()).stdout
    m = re.search(r"requests (\d+) errors (\d+) resumed (\d+)", out)
    requests, errors, resumed = int(m.group(1)), int(m.group(2)), int(m.group(3))
    return {"requests": requests, "p50_us": None, "p99_us": None, "non_2xx": errors, "socket_errors": "",
            "resumed_share": resumed / max(requests, 1)}


def h2load(server, spec, seconds, pin):
    """HTTP/2 load over TLS: h2load with `streams` requests in flight per connection."""
    cmd = ["h2load", "-c", str(spec["connections"]), "-m", str(spec["streams"]), "-D", str(seconds)]
    if spec.get("uris"):
        cmd += ["-i", os.path.join(server.root, spec["uris"])]
        with open(cmd[-1]) as f:
            uris = [line.strip().replace("PORT", str(server.port)) for line in f]
        cmd[-1] = os.path.join(server.workdir, f"{server.name}-uris.txt")
        with open(cmd[-1], "w") as f:
            f.write("\n".join(uris) + "\n")
    else:
        cmd.append(f"https://127.0.0.1:{server.port}{spec['path']}")
    out = subprocess.run(pinned(cmd, pin), capture_output=True, text=True, check=True, env=server.tls.client_env()).stdout
    m = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    if not m or "h2" not in re.search(r"Application protocol: (\S+)", out).group(1):
        raise RuntimeError(f"h2load against {server.name}: {out[-2000:]}")
    return {"requests": int(m.group(2)), "p50_us": None, "p99_us": None,
            "non_2xx": int(m.group(3)) + int(m.group(4)), "socket_errors": ""}


def run_load(server, spec, seconds, pin):
    if spec.get("streams"):
        return h2load(server, spec, seconds, pin)
    if spec.get("handshakes"):
        return tls_load(server.port, spec["path"], spec["connections"], seconds, pin, spec["handshakes"], server.tls)
    return wrk(server.port, spec["path"], spec["connections"], seconds, pin, spec.get("close", False), server.tls,
               spec.get("accept_encoding"))


def measure_load(server, spec, seconds, load_pin):
    size = spec["size"]
    before = cpu_ns(server.pids())
    worker_before = {p: cpu_ns([p]) for p in server.worker_pids()}
    started = time.time()
    result = run_load(server, spec, seconds, load_pin)
    elapsed = time.time() - started
    spent = cpu_ns(server.pids()) - before
    shares = sorted((cpu_ns([p]) - t for p, t in worker_before.items()), reverse=True)
    result.update({
        "rps": result["requests"] / seconds,
        "mbps": result["requests"] * size / seconds / 1e6,
        "cpu_us_per_request": spent / 1000 / max(result["requests"], 1),
        "busiest_worker_share": shares[0] / max(sum(shares), 1) if len(shares) > 1 else None,
        "elapsed": elapsed,
    })
    return result


def measure_idle_memory(server, count, load_pin):
    # A fresh server each time: memory freed by an earlier round stays in its heap and
    # would be reused, hiding the cost of the connections.
    server.stop()
    server.start()
    wrk(server.port, "/1k.bin", 4, 1, load_pin, tls=server.tls)  # warm: first-request allocations are not per connection
    holder = [os.path.join(TOP, "build-bench/bench/bench_holder"), str(server.port), str(count), "/1k.bin"]
    if server.tls:
        holder.append("tls")
    time.sleep(0.5)
    before = pss_kib(server.pids())
    p = subprocess.Popen(pinned(holder, load_pin), stdout=subprocess.PIPE, text=True,
                         env=server.tls.client_env() if server.tls else None)
    line = p.stdout.readline().strip()
    if not line.startswith("ready"):
        p.kill()
        raise RuntimeError(f"holder failed against {server.name}")
    time.sleep(1.0)
    after = pss_kib(server.pids())
    p.send_signal(signal.SIGTERM)
    p.wait()
    time.sleep(0.5)
    return {"bytes_per_connection": (after - before) * KIB / count, "pss_before_kib": before, "pss_after_kib": after}


def script_text(size):
    """Deterministic text with a vocabulary, so it compresses about as code does (4-5x)."""
    import random
    rng = random.Random(7)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(2, 10))) for _ in range(400)]
    out, length = [], 0
    while length < size:
        line = "  const " + " = ".join(rng.choice(words) for _ in range(rng.randint(2, 6))) + ";\n"
        out.append(line)
        length += len(line)
    return "".join(out)[:size]


def wire_bytes(server, path, accept_encoding):
    """One response's body size and Content-Encoding as it leaves the server."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", path, headers={"Accept-Encoding": accept_encoding})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return len(body), response.getheader("Content-Encoding") or "identity"


def make_root(root):
    os.makedirs(root, exist_ok=True)
    for name, size in (("1k.bin", KIB), ("64k.bin", 64 * KIB), ("10m.bin", 10 * KIB * KIB)):
        with open(os.path.join(root, name), "wb") as f:
            f.write(os.urandom(size))
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<h1>bench</h1>\n")
    # A page's assets for the HTTP/2 page load: 100 distinct 4 KiB files, and their URIs.
    os.makedirs(os.path.join(root, "page"), exist_ok=True)
    for i in range(100):
        with open(os.path.join(root, "page", f"a{i}.bin"), "wb") as f:
            f.write(os.urandom(4 * KIB))
    with open(os.path.join(root, "app.js"), "w") as f:
        f.write(script_text(64 * KIB))
    with open(os.path.join(root, "page-uris.txt"), "w") as f:
        f.write("".join(f"https://127.0.0.1:PORT/page/a{i}.bin\n" for i in range(100)))
    os.chmod(root, 0o755)


SCENARIOS = {
    "a": dict(title="1 KiB, 64 keep-alive connections", path="/1k.bin", connections=64, size=KIB),
    "b": dict(title="1 KiB, new connection per request", path="/1k.bin", connections=64, size=KIB, close=True),
    "c": dict(title="64 KiB, 16 keep-alive connections", path="/64k.bin", connections=16, size=64 * KIB),
    "d": dict(title="10 MiB, 8 connections", path="/10m.bin", connections=8, size=10 * KIB * KIB),
    "f": dict(title="1 KiB, 64 keep-alive, access log on", path="/1k.bin", connections=64, size=KIB, log=True),
}

H2_SCENARIOS = {
    "a": dict(title="h2 1 KiB, 16 connections x 32 streams", path="/1k.bin", connections=16, streams=32, size=KIB),
    "b": dict(title="h2 page load: 100 distinct 4 KiB files, 8 connections x 100 streams", uris="page-uris.txt",
              connections=8, streams=100, size=4 * KIB),
    "c": dict(title="h2 10 MiB, 4 connections", path="/10m.bin", connections=4, streams=1, size=10 * KIB * KIB),
}

COMPRESSION_SCENARIOS = {
    "g": dict(title="64 KiB JS, Accept-Encoding: gzip, 16 keep-alive", path="/app.js", connections=16,
              size=64 * KIB, accept_encoding="gzip"),
    "h": dict(title="64 KiB JS, Accept-Encoding: br, gzip, 16 keep-alive", path="/app.js", connections=16,
              size=64 * KIB, accept_encoding="br, gzip"),
    "i": dict(title="64 KiB JS, Accept-Encoding: zstd, 16 keep-alive", path="/app.js", connections=16,
              size=64 * KIB, accept_encoding="zstd"),
}

TLS_SCENARIOS = {
    "a": dict(title="HTTPS 1 KiB, 64 keep-alive connections", path="/1k.bin", connections=64, size=KIB),
    "b": dict(title="HTTPS 1 KiB, full TLS 1.3 handshake per request", path="/1k.bin", connections=32, size=KIB,
              handshakes="full"),
    "c": dict(title="HTTPS 1 KiB, resumed TLS 1.3 handshake per request", path="/1k.bin", connections=32,
              size=KIB, handshakes="resume"),
    "d": dict(title="HTTPS 10 MiB, 8 connections", path="/10m.bin", connections=8, size=10 * KIB * KIB),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--idle", type=int, default=10000, help="connections for the idle-memory scenario (e)")
    parser.add_argument("--scenarios", default="abcdef")
    parser.add_argument("--peers", action="store_true", help="add lighttpd and h2o")
    parser.add_argument("--json", default=os.path.join(TOP, "build-bench/results.json"))
    parser.add_argument("--baseline", action="store_true",
                        help="add pywebd-base, built by bench/run --baseline REV in build-bench-base/")
    parser.add_argument("--tls", action="store_true", help="the HTTPS scenarios (a)-(e) instead of plain HTTP")
    parser.add_argument("--h2", action="store_true", help="the HTTP/2 scenarios (a)-(c), against nginx and h2o")
    parser.add_argument("--compression", action="store_true",
                        help="the compression scenarios (g)-(i): a 64 KiB script compressed on the fly")
    parser.add_argument("--sites", type=int, default=0,
                        help="also measure pywebd with this many virtual hosts configured (pywebd-sites)")
    args = parser.parse_args()
    args.tls = args.tls or args.h2

    cpus = os.cpu_count() or 1
    server_pin, load_pin = (cpus - 1, 0) if cpus > 1 else (None, None)
    work = tempfile.mkdtemp(prefix="pywebd-bench-")
    os.chmod(work, 0o755)
    root = os.path.join(work, "root")
    make_root(root)
    os.makedirs(os.path.join(work, "nginx-tmp"), exist_ok=True)
    tls = Tls(work) if args.tls else None
    scenarios = (H2_SCENARIOS if args.h2 else TLS_SCENARIOS if args.tls else
                 COMPRESSION_SCENARIOS if args.compression else SCENARIOS)
    if args.compression and args.scenarios == "abcdef":
        args.scenarios = "ghi"
    kinds = [("pywebd", Pywebd), ("nginx", Nginx)] + ([] if args.tls else [("floor", Floor)])
    if args.baseline:
        kinds.insert(1, ("pywebd-base", PywebdBaseline))
    if args.sites:
        kinds.insert(1, ("pywebd-sites", PywebdSites))
    if args.h2:
        kinds += [("h2o", H2o)]  # lighttpd is not among the HTTP/2 peers
    elif args.peers:
        kinds += [("lighttpd", Lighttpd), ("h2o", H2o)]
    servers, port = {}, 20080
    for name, cls in kinds:
        servers[name] = cls(name, work, port, root, args.workers, None, server_pin, tls)
        servers[name].h2 = args.h2
        servers[name].compression = args.compression
        servers[name].sites = args.sites if cls is PywebdSites else 0
        port += 1
    if not args.tls and not args.compression:
        for name, cls in (("pywebd", Pywebd), ("nginx", Nginx)):
            servers[name + "+log"] = cls(name + "-log", work, port, root, args.workers,
                                         os.path.join(work, f"{name}-access.log"), server_pin)
            port += 1

    results = {}  # scenario -> server -> [measurements]
    wire = {}  # (scenario, server) -> (body bytes of one response, its Content-Encoding)
    try:
        for s in servers.values():
            s.start()
        idle_rss = {n: [rss_kib(p) for p in servers[n].worker_pids()] for n in ("pywebd", "nginx")}
        for scenario in args.scenarios:
            if (scenario == "e" and not args.h2) or scenario not in scenarios:
                continue
            spec = scenarios[scenario]
            names = ["pywebd+log", "nginx+log"] if spec.get("log") else [n for n, _ in kinds]
            if scenario != "a":
                names = [n for n in names if n != "floor" or scenario == "b"]
            if spec.get("accept_encoding"):
                names = [n for n in names if n != "floor"]
                for name in names:
                    wire[(scenario, name)] = wire_bytes(servers[name], spec["path"], spec["accept_encoding"])
            for round_ in range(args.rounds):
                for name in names:
                    if round_ == 0:
                        run_load(servers[name], spec, 1, load_pin)  # warm up
                    m = measure_load(servers[name], spec, args.seconds, load_pin)
                    results.setdefault(scenario, {}).setdefault(name, []).append(m)
                    print(f"  ({scenario}) round {round_ + 1} {name:12} {m['rps']:>10.0f} req/s "
                          f"{m['cpu_us_per_request']:>8.2f} us CPU/req", file=sys.stderr)
        if "e" in args.scenarios and not args.h2:
            for round_ in range(args.rounds):
                for name in [n for n, _ in kinds if n != "floor"]:
                    m = measure_idle_memory(servers[name], args.idle, load_pin)
                    results.setdefault("e", {}).setdefault(name, []).append(m)
                    print(f"  (e) round {round_ + 1} {name:12} {m['bytes_per_connection']:>8.0f} B/connection",
                          file=sys.stderr)
    finally:
        for s in servers.values():
            s.stop()
        if not os.environ.get("BENCH_KEEP"): shutil.rmtree(work, ignore_errors=True)

    report(results, idle_rss, args, server_pin, load_pin, scenarios)
    if wire:
        print("\n| scenario | server | Content-Encoding | body bytes on the wire (of 65,536) |")
        print("|---|---|---|---:|")
        for (scenario, name), (length, coding) in sorted(wire.items()):
            print(f"| ({scenario}) | {name} | {coding} | {length:,} |")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def report(results, idle_rss, args, server_pin, load_pin, scenarios):
    summary = {"machine": {"cpus": os.cpu_count(), "kernel": os.uname().release,
                           "pinning": f"servers on CPU {server_pin}, load on CPU {load_pin}"},
               "rounds": args.rounds, "seconds": args.seconds, "workers": args.workers, "tls": args.tls,
               "idle_worker_rss_kib": idle_rss, "scenarios": {}}
    rows = []
    metric_names = {"rps": "req/s", "cpu_us_per_request": "CPU us/req", "p50_us": "p50 us", "p99_us": "p99 us",
                    "mbps": "MB/s", "busiest_worker_share": "busiest worker share",
                    "bytes_per_connection": "B/idle conn", "resumed_share": "resumed share"}
    for scenario, per_server in results.items():
        idle_title = f"{args.idle} idle keep-alive {'TLS ' if args.tls else ''}connections"
        spec = scenarios.get(scenario, {"title": idle_title})
        metrics = (["bytes_per_connection"] if scenario == "e" else
                   ["rps", "cpu_us_per_request", "p50_us", "p99_us"] +
                   (["mbps"] if scenario in ("c" if args.h2 else "d" if args.tls else "cd") else []) +
                   (["resumed_share"] if args.tls and not args.h2 and scenario in "bc" else []) +
                   (["busiest_worker_share"] if scenario == "b" and not args.h2 else []))
        table = {}
        for name, runs in per_server.items():
            table[name] = {m: median([r.get(m) for r in runs]) for m in metrics}
            table[name]["errors"] = sum(r.get("non_2xx", 0) for r in runs)
        nginx = table.get("nginx+log" if scenario == "f" else "nginx", {})
        floor = table.get("floor", {})
        for name, values in table.items():
            for m in metrics:
                v = values[m]
                if v is None:
                    continue
                ratio = v / nginx[m] if nginx.get(m) else None
                vs_floor = v / floor[m] if floor.get(m) and m != "busiest_worker_share" else None
                values[m + "_vs_nginx"] = ratio
                values[m + "_vs_floor"] = vs_floor
                rows.append((scenario, spec["title"], name, metric_names[m], v, ratio, vs_floor))
        summary["scenarios"][scenario] = {"title": spec["title"], "servers": table}

    print(f"\n| scenario | server | metric | median | /nginx | /floor |")
    print("|---|---|---|---:|---:|---:|")
    for scenario, title, name, metric, v, ratio, vs_floor in rows:
        r = f"{ratio:.2f}" if ratio is not None else ""
        f_ = f"{vs_floor:.2f}" if vs_floor is not None else ""
        print(f"| ({scenario}) {title} | {name} | {metric} | {v:,.2f} | {r} | {f_} |")
    print(f"\nidle worker RSS (KiB): {idle_rss}")
    print(f"machine: {summary['machine']}; rounds {args.rounds} x {args.seconds} s; {args.workers} workers")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(summary, f, indent=2)
    print(f"\nJSON (also in {args.json}):")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
