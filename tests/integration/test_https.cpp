// HTTPS on the real binary with real clients: curl, openssl s_client, Python's ssl
// module for byte-level edge cases, and our own OpenSSL client for resumption across
// workers, ticket-key rotation and certificate swaps under load. (The whole semantics
// suite also runs over TLS: test_serving and test_semantics, Tls variants.)
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "http_client.hpp"
#include "load_clients.hpp"
#include "server_process.hpp"

namespace pywebd::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string request_line(const std::string& target = "/hello.txt") {
    return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
}

// openssl s_client against the server's first socket; its whole output.
std::string s_client(const ServerProcess& server, std::vector<std::string> extra, const std::string& input = "") {
    std::vector<std::string> args = {"openssl",  "s_client",
                                     "-connect", "127.0.0.1:" + std::to_string(server.port()),
                                     "-CAfile",  server.client_tls().ca_file.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_program(args, 20s, input).output;
}

// curl over HTTPS to the server's first socket: its exit status and output (-v on stderr).
RunResult curl(const ServerProcess& server, std::vector<std::string> extra, const std::string& path = "/hello.txt") {
    std::vector<std::string> args = {"curl", "-sS", "-v", "--max-time", "20"};
    for (const std::string& arg : server.curl_args()) args.push_back(arg);
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(server.url(path));
    return run_program(args, 30s);
}

// The name of the key a session's ticket is sealed with (the ticket's first 16 bytes).
std::string ticket_key_name(SSL_SESSION* session) {
    const unsigned char* ticket = nullptr;
    std::size_t length = 0;
    SSL_SESSION_get0_ticket(session, &ticket, &length);
    return length >= 16 ? std::string(reinterpret_cast<const char*>(ticket), 16) : std::string();
}

// A fresh connection that fetches one file and returns the session it ends with.
SslSessionPtr fresh_session(const ServerProcess& server, ClientTls tls) {
    HttpClient client(server.port(), tls);
    if (!client.connected()) return nullptr;
    if (!client.get("/hello.txt")) return nullptr;  // TLS 1.3 tickets arrive after the handshake
    return client.session();
}

// Whether a new connection offering `session` resumes it.
bool resumes(const ServerProcess& server, SSL_SESSION* session) {
    ClientTls tls = server.client_tls();
    tls.session = session;
    HttpClient client(server.port(), tls);
    EXPECT_TRUE(client.connected()) << client.tls_error();
    return client.resumed();
}

// What certbot and its deploy hook do: new files in place of the old, then a reload.
// Returns the STATUS the reload ended with.
std::string renew_and_reload(ServerProcess& server) {
    const LeafFiles renewed = server.pki()->leaf("renewed");
    std::filesystem::rename(renewed.chain, server.certificate().chain);
    std::filesystem::rename(renewed.key, server.certificate().key);
    server.signal(SIGHUP);
    const auto seen = server.wait_for_notification("READY=1", 20s);
    return seen.empty() ? std::string() : seen.back();
}

ServerOptions https(std::string yaml = "", unsigned workers = 2) {
    return ServerOptions{.yaml = std::move(yaml), .workers = workers, .tls = true};
}

TEST(Https, CurlSpeaksTls12AndTls13) {
    ServerProcess server(https());
    server.write("hello.txt", "hello\n");
    const RunResult v13 = curl(server, {"--tlsv1.3"});
    ASSERT_EQ(v13.status, 0) << v13.output;
    EXPECT_NE(v13.output.find("SSL connection using TLSv1.3"), std::string::npos) << v13.output;
    EXPECT_NE(v13.output.find("ALPN: server accepted h2"), std::string::npos) << v13.output;
    EXPECT_TRUE(v13.output.ends_with("hello\n"));
    const RunResult h1 = curl(server, {"--tlsv1.3", "--http1.1"});
    ASSERT_EQ(h1.status, 0) << h1.output;
    EXPECT_NE(h1.output.find("ALPN: server accepted http/1.1"), std::string::npos) << h1.output;
    EXPECT_TRUE(h1.output.ends_with("hello\n"));
    const RunResult v12 = curl(server, {"--tlsv1.2", "--tls-max", "1.2"});
    ASSERT_EQ(v12.status, 0) << v12.output;
    EXPECT_TRUE(std::regex_search(v12.output, std::regex("SSL connection using TLSv1\\.2 / ECDHE-ECDSA-AES\\S+-GCM-")))
        << v12.output;
    // Weak TLS 1.2 suites are not offered even to a client that asks only for them.
    const RunResult cbc = curl(server, {"--tlsv1.2", "--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-SHA256"});
    EXPECT_NE(cbc.status, 0) << cbc.output;
}

TEST(Https, SniPicksTheCertificateByNameWithADefault) {
    TempDir certs;
    TestPki pki(certs.path());
    const LeafFiles fallback = pki.leaf("default", {.names = {"localhost"}});
    const LeafFiles a = pki.leaf("a", {.names = {"a.test"}});
    const LeafFiles wildcard = pki.leaf("b", {.names = {"*.b.test"}});
    const LeafFiles a_rsa = pki.leaf("a-rsa", {.names = {"a.test"}, .rsa = true});
    std::string yaml = "tls:\n  certificates:\n";
    for (const LeafFiles* leaf : {&fallback, &a, &wildcard, &a_rsa})
        yaml += "    - {certificate: " + leaf->chain.string() + ", key: " + leaf->key.string() + "}\n";
    ServerProcess server(https(yaml));
    server.write("hello.txt", "hello\n");
    const struct {
        std::string sni;
        std::string subject;
    } cases[] = {{"a.test", "/CN=a.test"}, {"x.b.test", "/CN=*.b.test"}, {"unknown.test", "/CN=localhost"}};
    for (const auto& c : cases) {
        const std::string out = s_client(server, {"-servername", c.sni}, "");
        EXPECT_NE(out.find("subject=CN = " + c.subject.substr(4)), std::string::npos) << c.sni << "\n" << out;
        ClientTls tls{.ca_file = pki.ca_file(), .server_name = c.sni};
        HttpClient client(server.port(), tls);
        // Our client verifies the name it sent: it connects wherever the certificate covers it.
        EXPECT_EQ(client.connected(), c.sni != "unknown.test") << c.sni << ": " << client.tls_error();
        if (client.connected()) {
            EXPECT_EQ(client.peer_subject(), c.subject);
            EXPECT_EQ(client.get("/hello.txt")->body, "hello\n");
        }
    }
    // No SNI at all: the first certificate.
    HttpClient bare(server.port(), ClientTls{.ca_file = pki.ca_file(), .server_name = ""});
    ASSERT_TRUE(bare.connected()) << bare.tls_error();
    EXPECT_EQ(bare.peer_subject(), "/CN=localhost");
    // RSA and ECDSA for the same name: the client's signature algorithms choose.
    const std::string rsa = s_client(server, {"-servername", "a.test", "-sigalgs", "RSA-PSS+SHA256"});
    EXPECT_NE(rsa.find("Peer signature type: RSA-PSS"), std::string::npos) << rsa;
    const std::string ecdsa = s_client(server, {"-servername", "a.test", "-sigalgs", "ECDSA+SHA256"});
    EXPECT_NE(ecdsa.find("Peer signature type: ECDSA"), std::string::npos) << ecdsa;
}

struct AlpnCase {
    std::string offer;
    std::string chosen;
};

// Connects with each offer, checks what ALPN chose, and fetches over HTTP/1.1 where
// that is what was chosen (or nothing was).
void expect_alpn(ServerProcess& server, const std::vector<AlpnCase>& cases) {
    for (const AlpnCase& c : cases) {
        ClientTls tls = server.client_tls();
        tls.alpn = c.offer;
        HttpClient client(server.port(), tls);
        ASSERT_TRUE(client.connected()) << c.offer << ": " << client.tls_error();
        EXPECT_EQ(client.alpn(), c.chosen) << c.offer;
        if (c.chosen == "h2") continue;
        auto r = client.get("/hello.txt");
        ASSERT_TRUE(r) << c.offer;
        EXPECT_EQ(r->body, "hello\n");
    }
}

TEST(Https, AlpnPrefersH2ThenHttp11AndIgnoresUnknownProtocols) {
    ServerProcess server(https());
    server.write("hello.txt", "hello\n");
    expect_alpn(server, {{"h2,http/1.1", "h2"},
                         {"http/1.1,h2", "h2"},
                         {"http/1.1", "http/1.1"},
                         {"spdy/3,foo", ""},
                         {"h2", "h2"},
                         {"", ""}});
    const std::string out = s_client(server, {"-servername", "localhost", "-alpn", "http/1.1,h2"});
    EXPECT_NE(out.find("ALPN protocol: h2"), std::string::npos) << out;
}

TEST(Https, AListenerWithH2FalseOffersOnlyHttp11) {
    ServerProcess server(https("listen: [{address: \"127.0.0.1:{port0}\", tls: true, h2: false}]\n"));
    server.write("hello.txt", "hello\n");
    expect_alpn(server, {{"h2,http/1.1", "http/1.1"}, {"h2", ""}});
    const RunResult r = curl(server, {"--http2"});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("ALPN: server accepted http/1.1"), std::string::npos) << r.output;
    EXPECT_TRUE(r.output.ends_with("hello\n"));
}

// Every connection after the first resumes with the first one's ticket, whichever
// worker accepts it; the test goes on until a resumption lands on another worker.
void expect_resumption_across_workers(int max_version) {
    ServerProcess server(https());
    server.write("hello.txt", "hello\n");
    const std::vector<pid_t> workers = server.wait_for_workers(2, {}, 15s);
    ASSERT_EQ(workers.size(), 2u);
    ClientTls tls = server.client_tls();
    tls.max_version = max_version;
    HttpClient first(server.port(), tls);
    ASSERT_TRUE(first.connected()) << first.tls_error();
    ASSERT_TRUE(first.get("/hello.txt"));
    const auto first_worker = owner_of_connection(first.fd(), workers);
    ASSERT_TRUE(first_worker);
    SslSessionPtr session = first.session();
    ASSERT_TRUE(session);
    tls.session = session.get();
    std::set<pid_t> resumed_on;
    for (int i = 0; i < 200 && resumed_on.size() < 2; ++i) {
        HttpClient again(server.port(), tls);
        ASSERT_TRUE(again.connected()) << again.tls_error();
        EXPECT_TRUE(again.resumed()) << "connection " << i;
        ASSERT_EQ(again.get("/hello.txt")->body, "hello\n");
        if (const auto owner = owner_of_connection(again.fd(), workers); owner && again.resumed())
            resumed_on.insert(*owner);
    }
    EXPECT_EQ(resumed_on.size(), 2u) << "no resumption on the worker that did not issue the ticket";
    EXPECT_TRUE(resumed_on.contains(*first_worker));
}

TEST(Https, Tls13ResumesOnEveryWorker) { expect_resumption_across_workers(0); }
TEST(Https, Tls12ResumesOnEveryWorker) { expect_resumption_across_workers(TLS1_2_VERSION); }

TEST(Https, OpensslClientResumesWithSessOutSessInAndReconnect) {
    ServerProcess server(https());
    server.write("hello.txt", "hello\n");
    const auto session_file = server.dir().path() / "session.pem";
    const std::string first =
        s_client(server, {"-servername", "localhost", "-sess_out", session_file, "-ign_eof"}, request_line());
    ASSERT_NE(first.find("New, TLSv1.3"), std::string::npos) << first;
    for (int i = 0; i < 4; ++i) {
        const std::string again =
            s_client(server, {"-servername", "localhost", "-sess_in", session_file, "-ign_eof"}, request_line());
        EXPECT_NE(again.find("Reused, TLSv1.3"), std::string::npos) << again;
        EXPECT_NE(again.find("hello\n"), std::string::npos);
    }
    // -reconnect drops and resumes five times; with TLS 1.3 s_client drops before the
    // ticket arrives, so this is the TLS 1.2 path (tickets in the handshake).
    const std::string reconnect = s_client(server, {"-servername", "localhost", "-tls1_2", "-reconnect"});
    std::size_t reused = 0;
    for (std::size_t at = 0; (at = reconnect.find("\nReused, TLSv1.2", at)) != std::string::npos; ++at) ++reused;
    EXPECT_EQ(reused, 5u) << reconnect;
}

TEST(Https, SessionTicketsOffMeansFullHandshakes) {
    ServerProcess server(
        https("tls:\n  session_tickets: false\n  certificates: [{certificate: \"{cert}\", key: \"{key}\"}]\n", 1));
    server.write("hello.txt", "hello\n");
    SslSessionPtr session = fresh_session(server, server.client_tls());
    ASSERT_TRUE(session);
    EXPECT_EQ(ticket_key_name(session.get()), "");  // no ticket was sent
    EXPECT_FALSE(resumes(server, session.get()));
}

// The master rotates the ticket key; a ticket sealed with the previous key still
// resumes, one two rotations old does not. Which key sealed a ticket is read from the
// ticket itself, so the test follows the rotations rather than the clock. A ticket lives
// two periods, so the test takes its ticket half a period into a key's life: when that
// key is dropped the ticket is 1.5 periods old, and only the key can be the reason.
TEST(Https, TicketKeysRotateAndThePreviousKeyStillResumes) {
    constexpr auto kPeriod = 2s;
    ServerProcess server(
        https("tls:\n  ticket_rotation: 2s\n  certificates: [{certificate: \"{cert}\", key: \"{key}\"}]\n", 1));
    server.write("hello.txt", "hello\n");
    const ClientTls tls = server.client_tls();
    // Waits until new tickets are sealed with a key none of `seen` names.
    auto next_key = [&](const std::set<std::string>& seen) -> SslSessionPtr {
        const auto deadline = Clock::now() + 30s;
        while (Clock::now() < deadline) {
            SslSessionPtr s = fresh_session(server, tls);
            if (s && !seen.contains(ticket_key_name(s.get()))) return s;
            std::this_thread::sleep_for(50ms);
        }
        return nullptr;
    };
    SslSessionPtr first = fresh_session(server, tls);
    ASSERT_TRUE(first);
    ASSERT_EQ(ticket_key_name(first.get()).size(), 16u);
    ASSERT_TRUE(next_key({ticket_key_name(first.get())})) << "the ticket key did not rotate";
    std::this_thread::sleep_for(kPeriod / 2);  // positioning only: every check below is by key name
    const auto sealed_at = Clock::now();       // no later than the ticket's sealing: its age is not underestimated
    SslSessionPtr ticket = fresh_session(server, tls);
    ASSERT_TRUE(ticket);
    const std::string key = ticket_key_name(ticket.get());
    SslSessionPtr newer = next_key({key});
    ASSERT_TRUE(newer) << "no rotation after the ticket";
    EXPECT_TRUE(resumes(server, ticket.get())) << "a ticket sealed with the previous key did not resume";
    ASSERT_TRUE(next_key({key, ticket_key_name(newer.get())})) << "no second rotation";
    const bool resumed = resumes(server, ticket.get());
    if (Clock::now() - sealed_at >= 2 * kPeriod)  // measured after the attempt: it may have expired during it
        GTEST_SKIP() << "too slow to tell a dropped key from an expired ticket here";
    EXPECT_FALSE(resumed) << "a ticket whose key was dropped still resumed";
    EXPECT_TRUE(wait_for_log(server, "session ticket keys rotated"));
}

// Keys made once by the master are kept across a reload: a ticket from before resumes after.
TEST(Https, TicketsResumeAcrossAReload) {
    ServerProcess server(https("", 1));
    server.write("hello.txt", "hello\n");
    SslSessionPtr session = fresh_session(server, server.client_tls());
    ASSERT_TRUE(session);
    const std::vector<pid_t> before = server.workers();
    server.signal(SIGHUP);
    const auto seen = server.wait_for_notification("READY=1", 20s);
    ASSERT_FALSE(seen.empty());
    ASSERT_NE(seen.back().find("last reload: ok"), std::string::npos);
    ASSERT_EQ(server.wait_for_workers(1, before, 15s).size(), 1u);
    EXPECT_TRUE(resumes(server, session.get()));
}

TEST(Https, PlainHttpToTheTlsPortGetsA400ThatSaysSo) {
    ServerProcess server(https("access_log: access.log\n"));
    HttpClient plain(server.port());
    ASSERT_TRUE(plain.send("GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    auto r = plain.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_NE(r->body.find("The plain HTTP request was sent to an HTTPS port"), std::string::npos) << r->body;
    EXPECT_TRUE(plain.closed_by_server());
    ASSERT_EQ(WEXITSTATUS(server.stop()), 0);
    EXPECT_NE(read_file(server.dir().path() / "access.log").find("\"GET /index.html HTTP/1.1\" 400 "),
              std::string::npos);
    EXPECT_TRUE(std::regex_search(server.error_log(), std::regex(R"(\[info\].*plain HTTP request on a TLS port)")));
}

// A plain listener beside the TLS one sends everything to HTTPS with 308, which curl
// follows to the file.
TEST(Https, PlainListenerRedirectsToHttpsWith308) {
    ServerProcess server(
        ServerOptions{.yaml = "listen:\n  - {address: \"127.0.0.1:{port0}\", tls: true}\n"
                              "  - {address: \"127.0.0.1:{port1}\", redirect_to_https: true, https_port: {port0}}\n",
                      .sockets = 2,
                      .tls = true});
    server.write("dir/file.txt", "over https\n");
    HttpClient plain(server.port(1));
    ASSERT_TRUE(plain.send("GET /dir/file.txt?a=1&b=%20 HTTP/1.1\r\nHost: localhost:" + std::to_string(server.port(1)) +
                           "\r\n\r\n"));
    auto r = plain.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 308);
    EXPECT_EQ(r->header("location"), "https://localhost:" + std::to_string(server.port(0)) + "/dir/file.txt?a=1&b=%20");
    const std::string http_url = "http://localhost:" + std::to_string(server.port(1)) + "/dir/file.txt";
    std::vector<std::string> args = {"curl",
                                     "-sS",
                                     "-L",
                                     "--max-time",
                                     "20",
                                     "--resolve",
                                     "localhost:" + std::to_string(server.port(1)) + ":127.0.0.1"};
    for (const std::string& arg : server.curl_args()) args.push_back(arg);
    args.push_back(http_url);
    const RunResult followed = run_program(args, 30s);
    EXPECT_EQ(followed.status, 0) << followed.output;
    EXPECT_EQ(followed.output, "over https\n");
}

// systemd passes sockets; they are matched to listen entries by port. A TLS entry whose
// port no passed socket has, and a passed socket no entry names, are warned about.
TEST(Https, SocketActivationPortMismatchIsWarnedAbout) {
    ServerProcess server(https("listen: [{address: \"127.0.0.1:9\", tls: true}]\n"));
    ASSERT_TRUE(wait_for_log(server, "matches no listen entry")) << server.error_log();
    EXPECT_TRUE(std::regex_search(
        server.error_log(), std::regex(R"(\[warn\].*socket activation: .*port \d+\) matches no listen entry by port; )"
                                       R"(it serves plain HTTP)")))
        << server.error_log();
    EXPECT_TRUE(std::regex_search(
        server.error_log(), std::regex(R"(\[warn\].*listen entry 127\.0\.0\.1:9 \(tls\) has no socket from systemd)")))
        << server.error_log();
    server.write("hello.txt", "hello\n");
    HttpClient plain(server.port());  // what it warned about: plain HTTP on the passed socket
    auto r = plain.get("/hello.txt");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "hello\n");
}

TEST(Https, AccessLogRecordsProtocolAndCipher) {
    ServerProcess server(
        https("access_log: access.log\ntls:\n  log_protocol: true\n"
              "  certificates: [{certificate: \"{cert}\", key: \"{key}\"}]\n"));
    server.write("hello.txt", "hello\n");
    ASSERT_TRUE(server.get("/hello.txt"));
    ClientTls tls12 = server.client_tls();
    tls12.max_version = TLS1_2_VERSION;
    HttpClient old(server.port(), tls12);
    ASSERT_TRUE(old.get("/hello.txt"));
    ASSERT_EQ(WEXITSTATUS(server.stop()), 0);
    const std::string log = read_file(server.dir().path() / "access.log");
    EXPECT_TRUE(std::regex_search(log, std::regex(R"("GET /hello.txt HTTP/1.1" 200 6 "-" "-" TLSv1\.3 TLS_AES_\S+\n)")))
        << log;
    EXPECT_TRUE(
        std::regex_search(log, std::regex(R"("GET /hello.txt HTTP/1.1" 200 6 "-" "-" TLSv1\.2 ECDHE-ECDSA-\S+\n)")))
        << log;
}

// Byte-level edge cases from Python's ssl module (tls_edge_cases.py): split, cut,
// garbage, oversized and stalled handshakes each end only their own connection; the
// workers keep serving (none is replaced) and the log names each failure at info.
TEST(Https, HandshakeEdgeCasesEndOnlyTheirConnection) {
    ServerProcess server(https("timeouts:\n  header: 2s\n"));
    server.write("hello.txt", "hello\n");
    const std::vector<pid_t> workers = server.wait_for_workers(2, {}, 15s);
    const RunResult run =
        run_program({"python3", std::string(PYWEBD_SOURCE_DIR) + "/tests/integration/tls_edge_cases.py",
                     std::to_string(server.port()), server.client_tls().ca_file.string(), "2"},
                    180s);
    std::cout << run.output;
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(server.workers(), workers);  // no worker crashed or was replaced
    const std::string log = server.error_log();
    EXPECT_TRUE(std::regex_search(log, std::regex(R"(\[info\].*TLS handshake failed conn=\d+ peer=127\.0\.0\.1: )")))
        << log;
    for (const char* level : {"[notice]", "[warn]", "[error]", "[crit]"}) {
        std::istringstream lines(log);
        for (std::string line; std::getline(lines, line);)
            EXPECT_FALSE(line.find(level) != std::string::npos && line.find("handshake") != std::string::npos) << line;
    }
}

// Workers never open key files: none is among any worker's descriptors, and as root
// the key stays readable by root only while the workers run as nobody.
TEST(Https, WorkersHoldNoKeyFile) {
    ServerProcess server(https());
    const auto key = std::filesystem::canonical(server.certificate().key);
    for (pid_t worker : server.wait_for_workers(2, {}, 15s)) {
        const std::string fd_dir = "/proc/" + std::to_string(worker) + "/fd";
        for (const auto& entry : std::filesystem::directory_iterator(fd_dir)) {
            std::error_code ec;
            const auto target = std::filesystem::read_symlink(entry.path(), ec);
            EXPECT_NE(target, key) << "worker " << worker << " holds the private key open";
        }
        if (::geteuid() == 0) {
            EXPECT_NE(read_proc_file("/proc/" + std::to_string(worker) + "/status").find("Uid:\t65534"),
                      std::string::npos);
        }
    }
    EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

// The packaged unit's model, without systemd: the master is an unprivileged user with
// CAP_DAC_READ_SEARCH and CAP_NET_BIND_SERVICE as ambient capabilities. It reads the
// root-only key (at start and on reload) with CAP_DAC_READ_SEARCH raised only for
// that; the workers hold no capability at all.
TEST(Https, AnUnprivilegedMasterReadsRootOnlyKeysAndWorkersHoldNoCapabilities) {
    if (::geteuid() != 0) GTEST_SKIP() << "starting the master as another user with capabilities needs root";
    const std::string caps = "-all,+dac_read_search,+net_bind_service";
    ServerProcess server(ServerOptions{.tls = true,
                                       .wrapper = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                                   "--clear-groups", "--inh-caps=" + caps, "--ambient-caps=" + caps}});
    server.write("hello.txt", "hello\n");
    const auto status_of = [](pid_t pid) { return read_proc_file("/proc/" + std::to_string(pid) + "/status"); };
    const std::string master = status_of(server.pid());
    EXPECT_NE(master.find("Uid:\t65534"), std::string::npos) << master;
    EXPECT_NE(master.find("CapPrm:\t0000000000000404"), std::string::npos) << master;  // both kept
    EXPECT_NE(master.find("CapEff:\t0000000000000400"), std::string::npos) << master;  // DAC_READ_SEARCH lowered
    EXPECT_NE(master.find("CapAmb:\t0000000000000000"), std::string::npos) << master;
    for (pid_t worker : server.wait_for_workers(2, {}, 15s)) {
        const std::string status = status_of(worker);
        for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapAmb"})
            EXPECT_NE(status.find(std::string(set) + ":\t0000000000000000"), std::string::npos)
                << "worker " << worker << "\n"
                << status;
    }
    EXPECT_EQ(server.get("/hello.txt")->body, "hello\n");
    // A renewal: new root-only files, then a reload the master reads them in.
    const std::string old_serial = server.connect().peer_serial();
    ASSERT_FALSE(old_serial.empty());
    EXPECT_NE(renew_and_reload(server).find("last reload: ok"), std::string::npos) << server.error_log();
    EXPECT_NE(server.connect().peer_serial(), old_serial);
}

// certbot's deploy hook is `systemctl reload pywebd`: a SIGHUP with new files in
// place. Keep-alive and new connections run through it without one failed request,
// and new connections then get the new certificate.
TEST(Https, CertificateSwapUnderLoadFailsNoRequest) {
    ServerProcess server(https());
    const std::string body(20000, 'x');
    server.write("file.txt", body);
    const std::string old_serial = server.connect().peer_serial();
    ASSERT_FALSE(old_serial.empty());
    LoadClients load(server.port(), "/file.txt", {body}, 3, 3, 200000, server.client_tls());
    const auto requests_reach = [&](std::uint64_t count) {
        const auto deadline = Clock::now() + 30s;
        while (load.requests() < count && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
        return load.requests() >= count;
    };
    ASSERT_TRUE(requests_reach(50));  // the load is running before the reload…
    EXPECT_NE(renew_and_reload(server).find("last reload: ok"), std::string::npos);
    EXPECT_TRUE(requests_reach(load.requests() + 50));  // …and after it
    load.stop();
    std::cout << "certificate swap under HTTPS load: requests=" << load.requests() << " failures=" << load.failures()
              << std::endl;
    EXPECT_EQ(load.failures(), 0u) << load.failure_samples().front();
    EXPECT_GT(load.requests(), 50u);
    const std::string new_serial = server.connect().peer_serial();
    EXPECT_FALSE(new_serial.empty());
    EXPECT_NE(new_serial, old_serial);
}

// A renewal gone wrong (a key that is not the certificate's) fails the reload loudly,
// naming the file, and the old certificate serves on.
TEST(Https, ABrokenKeyOnReloadKeepsTheOldGeneration) {
    ServerProcess server(https());
    server.write("hello.txt", "hello\n");
    const std::string serial = server.connect().peer_serial();
    ASSERT_FALSE(serial.empty());
    const LeafFiles other = server.pki()->leaf("other");
    std::filesystem::rename(other.key, server.certificate().key);  // the certificate stays the old one
    server.signal(SIGHUP);
    const auto seen = server.wait_for_notification("READY=1", 20s);
    ASSERT_FALSE(seen.empty());
    EXPECT_NE(seen.back().find("last reload: failed"), std::string::npos) << seen.back();
    EXPECT_TRUE(wait_for_log(server, server.certificate().key.filename().string())) << server.error_log();
    EXPECT_NE(server.error_log().find("does not match"), std::string::npos) << server.error_log();
    HttpClient client = server.connect();
    ASSERT_TRUE(client.connected()) << client.tls_error();
    EXPECT_EQ(client.peer_serial(), serial);
    EXPECT_EQ(client.get("/hello.txt")->body, "hello\n");
}

TEST(Https, CertificateCheckedByDashT) {
    TempDir dir;
    TestPki pki(dir.path());
    const LeafFiles good = pki.leaf("good");
    const LeafFiles expired = pki.leaf("expired", {.valid_from = -10 * 86400, .valid_until = -86400});
    const LeafFiles soon = pki.leaf("soon", {.valid_until = 10 * 86400});
    auto check = [&](const LeafFiles& leaf, const std::filesystem::path& key) {
        dir.write("server.yaml", "listen: [{address: \"127.0.0.1:8443\", tls: true}]\nroot: " + dir.path().string() +
                                     "\ntls:\n  certificates: [{certificate: " + leaf.chain.string() +
                                     ", key: " + key.string() + "}]\n" + user_line());
        return run_pywebd({"-t", "-c", (dir.path() / "server.yaml").string()});
    };
    const RunResult ok = check(good, good.key);
    EXPECT_EQ(ok.status, 0) << ok.output;
    const RunResult mismatch = check(good, expired.key);
    EXPECT_EQ(mismatch.status, 1);
    EXPECT_NE(mismatch.output.find("expired.key"), std::string::npos) << mismatch.output;
    const RunResult old = check(expired, expired.key);
    EXPECT_EQ(old.status, 1);
    EXPECT_NE(old.output.find("expired.pem"), std::string::npos) << old.output;
    EXPECT_NE(old.output.find("expired"), std::string::npos) << old.output;
    const RunResult warned = check(soon, soon.key);
    EXPECT_EQ(warned.status, 0) << warned.output;
    EXPECT_NE(warned.output.find("warning"), std::string::npos) << warned.output;
    EXPECT_NE(warned.output.find("within 30 days"), std::string::npos) << warned.output;
}

// The file-body path in use is logged once per worker; where the kernel offers kTLS,
// a large file must go out through it byte-exact. This machine's kernel has no tls
// module: the test says so and checks the user-space path instead.
TEST(Https, FileBodiesUseKernelTlsWhereOffered) {
    ServerProcess server(https("", 2));
    std::string big(10 << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
    server.write("big.bin", big);
    const bool offered = read_proc_file("/proc/sys/net/ipv4/tcp_available_ulp").find("tls") != std::string::npos;
    ASSERT_TRUE(wait_for_log(server, "TLS file bodies:"));
    EXPECT_NE(server.error_log().find(offered ? "TLS file bodies: kernel TLS"
                                              : "TLS file bodies: encrypted in user space (this kernel offers no "),
              std::string::npos)
        << server.error_log();
    auto r = server.get("/big.bin");
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->body == big);
    if (!offered)
        GTEST_SKIP() << "this kernel offers no 'tls' ULP (/proc/sys/net/ipv4/tcp_available_ulp: "
                     << read_proc_file("/proc/sys/net/ipv4/tcp_available_ulp")
                     << "); the user-space path was checked here, and tests/ktls/run checks the kTLS path "
                        "under qemu with Debian's kernel";
    const std::string stats = read_proc_file("/proc/net/tls_stat");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(stats, m, std::regex(R"(TlsTxSw\s+(\d+))"))) << stats;
    EXPECT_GT(std::stol(m[1]), 0) << "no connection used kernel TLS for sending";
}

}  // namespace
}  // namespace pywebd::test
