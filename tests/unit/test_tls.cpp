// HTTPS below the connection: certificates as the master loads and checks them, and
// the TLS context (SNI, ALPN, shared tickets, stapling) in real in-process handshakes.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <thread>

#include "config.hpp"
#include "temp_dir.hpp"
#include "test_pki.hpp"
#include "tls_certificates.hpp"
#include "tls_context.hpp"

namespace pywebd {
namespace {

class Certificates : public testing::Test {
protected:
    Certificates() : pki_(dir_.path()) {}

    std::vector<LoadedCertificate> load(const test::LeafFiles& files, const std::string& ocsp = "") {
        TlsSettings settings;
        settings.certificates.push_back({files.chain, files.key, ocsp, "server.yaml:7:5"});
        errors_.clear();
        warnings_.clear();
        return load_certificates(settings, std::time(nullptr), errors_, warnings_);
    }
    std::string errors() const {
        std::string out;
        for (const auto& e : errors_) out += e + "\n";
        return out;
    }

    test::TempDir dir_;
    test::TestPki pki_;
    std::vector<std::string> errors_, warnings_;
};

TEST_F(Certificates, AGoodChainLoadsWithItsNames) {
    auto loaded = load(pki_.leaf("site", {.names = {"example.org", "*.example.org"}}));
    ASSERT_EQ(loaded.size(), 1u) << errors();
    EXPECT_EQ(loaded[0].names, (std::vector<std::string>{"example.org", "*.example.org"}));
    EXPECT_EQ(loaded[0].chain.size(), 1u);
    EXPECT_TRUE(warnings_.empty());
}

TEST_F(Certificates, EachUnusableOneIsAnErrorNamingItsFile) {
    struct Case {
        std::string what;
        std::function<test::LeafFiles()> make;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {"expired", [&] { return pki_.leaf("old", {.valid_from = -90 * 86400, .valid_until = -86400}); },
         "old.pem: the certificate expired on"},
        {"not yet valid", [&] { return pki_.leaf("new", {.valid_from = 86400, .valid_until = 90 * 86400}); },
         "new.pem: the certificate is not valid before"},
        {"chain out of order", [&] { return pki_.leaf("rev", {.chain_reversed = true}); },
         "rev.pem: the chain is out of order"},
        {"key of another certificate",
         [&] {
             auto a = pki_.leaf("a");
             auto b = pki_.leaf("b");
             return test::LeafFiles{a.chain, b.key};
         },
         "b.key does not match the certificate"},
        {"missing key",
         [&] {
             return test::LeafFiles{pki_.leaf("c").chain, dir_.path() / "nope.key"};
         },
         "nope.key: No such file or directory"},
        {"an encrypted key (no terminal prompt: the master may run under systemd)",
         [&] { return pki_.leaf("secret", {.passphrase = "hunter2"}); },
         "secret.key: an encrypted private key; pywebd needs it unencrypted"},
        {"a key file with no key",
         [&] {
             return test::LeafFiles{pki_.leaf("d").chain, pki_.ca_file()};
         },
         "ca.pem: no PEM private key in it"},
        {"no certificate",
         [&] {
             return test::LeafFiles{pki_.leaf("e").key, pki_.leaf("f").key};
         },
         "e.key: no PEM certificate in it"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        const auto loaded = load(c.make());
        EXPECT_TRUE(loaded.empty());
        ASSERT_EQ(errors_.size(), 1u);
        EXPECT_EQ(errors_[0].rfind("server.yaml:7:5: tls.certificates: ", 0), 0u) << errors_[0];
        EXPECT_NE(errors_[0].find(c.expected), std::string::npos) << errors_[0];
    }
}

// A master run from a terminal (pywebd -t, or one started by hand and reloaded) must not
// stop to ask for a passphrase: OpenSSL's default callback would, on the controlling
// terminal. The load runs in a child whose terminal is a pty; a prompt would hang it.
TEST_F(Certificates, AnEncryptedKeyIsRefusedWithoutAPromptEvenOnATerminal) {
    const auto leaf = pki_.leaf("secret", {.passphrase = "hunter2"});
    int terminal = -1, child_side = -1;
    ASSERT_EQ(::openpty(&terminal, &child_side, nullptr, nullptr, nullptr), 0);
    const pid_t child = ::fork();
    if (child == 0) {
        ::setsid();
        ::ioctl(child_side, TIOCSCTTY, 0);
        for (int fd : {0, 1, 2}) ::dup2(child_side, fd);
        TlsSettings settings;
        settings.certificates.push_back({leaf.chain, leaf.key, {}, "x"});
        std::vector<std::string> errors, warnings;
        load_certificates(settings, std::time(nullptr), errors, warnings);
        ::_exit(errors.size() == 1 && errors[0].find("an encrypted private key") != std::string::npos ? 0 : 1);
    }
    ::close(child_side);
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 2000 && (done = ::waitpid(child, &status, WNOHANG)) == 0; ++i) ::usleep(10000);
    std::string shown(4096, '\0');
    const ssize_t n = ::read(terminal, shown.data(), shown.size());  // what the child wrote to its terminal
    shown.resize(static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    ::close(terminal);
    if (done == 0) {
        ::kill(child, SIGKILL);
        ::waitpid(child, &status, 0);
        FAIL() << "the load waited on the terminal: " << shown;
    }
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << shown;
    EXPECT_EQ(shown.find("pass phrase"), std::string::npos) << shown;
}

TEST_F(Certificates, WarningsForWhatServesButShouldBeFixed) {
    auto files = pki_.leaf("soon", {.valid_until = 10 * 86400});
    std::filesystem::permissions(files.key, std::filesystem::perms(0644));
    const auto loaded = load(files);
    ASSERT_EQ(loaded.size(), 1u) << errors();
    ASSERT_EQ(warnings_.size(), 2u);
    EXPECT_NE(warnings_[0].find("soon.pem expires on"), std::string::npos) << warnings_[0];
    EXPECT_NE(warnings_[0].find("within 30 days"), std::string::npos);
    EXPECT_NE(warnings_[1].find("soon.key is readable by every user (mode 0644)"), std::string::npos) << warnings_[1];
}

TEST_F(Certificates, OcspResponsesAreCheckedBeforeTheyAreStapled) {
    const auto site = pki_.leaf("site");
    auto loaded = load(site, pki_.ocsp_good("good", site).string());
    ASSERT_EQ(loaded.size(), 1u) << errors();
    EXPECT_FALSE(loaded[0].ocsp.empty());
    loaded = load(site, pki_.ocsp_good("stale", site, -2 * 86400, -86400).string());
    ASSERT_EQ(loaded.size(), 1u) << errors();
    EXPECT_TRUE(loaded[0].ocsp.empty());  // served, not stapled
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_NE(warnings_[0].find("stale.ocsp.der is out of date"), std::string::npos) << warnings_[0];
    const auto other = pki_.leaf("other");
    loaded = load(site, pki_.ocsp_good("wrong", other).string());
    EXPECT_TRUE(loaded.empty());
    ASSERT_EQ(errors_.size(), 1u);
    EXPECT_NE(errors_[0].find("wrong.ocsp.der: is about another certificate"), std::string::npos) << errors_[0];
}

// A client and a server SSL on a socketpair, handshaking in turns.
struct Handshake {
    SslPtr server, client;
    bool done = false;

    Handshake(const TlsContext& context, SSL_CTX* client_ctx, const char* sni, SSL_SESSION* resume = nullptr,
              bool offer_h2 = true) {
        int fds[2];
        ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds);
        server_fd_.reset(fds[0]);
        client_fd_.reset(fds[1]);
        server = context.accept(server_fd_.get(), offer_h2);
        client.reset(SSL_new(client_ctx));
        SSL_set_fd(client.get(), client_fd_.get());
        if (sni)
            SSL_ctrl(client.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(sni));
        if (resume) SSL_set_session(client.get(), resume);
        SSL_set_connect_state(client.get());
        for (int i = 0; i < 100 && !done; ++i) {
            const int c = SSL_do_handshake(client.get());
            const int s = SSL_do_handshake(server.get());
            done = c == 1 && s == 1;
        }
        // TLS 1.3 tickets come after the handshake: let the client read them.
        char byte;
        SSL_write(server.get(), "x", 1);
        SSL_read(client.get(), &byte, 1);
    }
    std::string server_name() const {
        X509* cert = SSL_get_certificate(server.get());
        char cn[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        return cn;
    }
    std::string alpn() const {
        const unsigned char* p = nullptr;
        unsigned n = 0;
        SSL_get0_alpn_selected(server.get(), &p, &n);
        return std::string(reinterpret_cast<const char*>(p), n);
    }

private:
    UniqueFd server_fd_, client_fd_;
};

class Context : public Certificates {
protected:
    Context() : client_ctx_(SSL_CTX_new(TLS_client_method())) {
        SSL_CTX_load_verify_locations(client_ctx_.get(), pki_.ca_file().c_str(), nullptr);
        SSL_CTX_set_verify(client_ctx_.get(), SSL_VERIFY_PEER, nullptr);
    }
    std::unique_ptr<TlsContext> context(const std::vector<test::LeafFiles>& leaves, std::shared_ptr<TicketKeys> keys) {
        TlsSettings settings;
        for (const auto& leaf : leaves) settings.certificates.push_back({leaf.chain, leaf.key, {}, "x"});
        std::vector<std::string> errors, warnings;
        auto loaded = load_certificates(settings, std::time(nullptr), errors, warnings);
        EXPECT_TRUE(errors.empty());
        return std::make_unique<TlsContext>(settings, std::move(loaded), std::move(keys));
    }
    SslCtxPtr client_ctx_;
};

TEST_F(Context, SniPicksTheCertificateByItsNamesExactThenWildcardElseTheDefault) {
    const auto a = pki_.leaf("a", {.names = {"a.example"}});
    const auto b = pki_.leaf("b", {.names = {"b.example", "*.b.example"}});
    const auto tls = context({a, b}, nullptr);
    EXPECT_EQ(Handshake(*tls, client_ctx_.get(), "b.example").server_name(), "b.example");
    EXPECT_EQ(Handshake(*tls, client_ctx_.get(), "WWW.B.Example.").server_name(), "b.example");
    EXPECT_EQ(Handshake(*tls, client_ctx_.get(), "x.www.b.example").server_name(), "a.example");  // one label only
    EXPECT_EQ(Handshake(*tls, client_ctx_.get(), "a.example").server_name(), "a.example");
    EXPECT_EQ(Handshake(*tls, client_ctx_.get(), nullptr).server_name(), "a.example");  // no SNI: the first
    Handshake verified(*tls, client_ctx_.get(), "b.example");
    EXPECT_TRUE(verified.done);
    EXPECT_EQ(SSL_get_verify_result(verified.client.get()), X509_V_OK);
}

TEST_F(Context, AnRsaAndAnEcdsaCertificateForTheSameNamesServeSideBySide) {
    const auto ec = pki_.leaf("ec", {.names = {"site.example"}});
    const auto rsa = pki_.leaf("rsa", {.names = {"site.example"}, .rsa = true});
    const auto tls = context({ec, rsa}, nullptr);
    SSL_CTX_set_max_proto_version(client_ctx_.get(), TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(client_ctx_.get(), "ECDHE-RSA-AES128-GCM-SHA256");
    Handshake rsa_only(*tls, client_ctx_.get(), "site.example");
    ASSERT_TRUE(rsa_only.done);
    EXPECT_EQ(EVP_PKEY_get_base_id(SSL_get_privatekey(rsa_only.server.get())), EVP_PKEY_RSA);
    SSL_CTX_set_cipher_list(client_ctx_.get(), "ECDHE-ECDSA-AES128-GCM-SHA256");
    Handshake ec_only(*tls, client_ctx_.get(), "site.example");
    ASSERT_TRUE(ec_only.done);
    EXPECT_EQ(EVP_PKEY_get_base_id(SSL_get_privatekey(ec_only.server.get())), EVP_PKEY_EC);
}

TEST_F(Context, AlpnPrefersH2WhereOfferedThenHttp11AndIgnoresProtocolsItDoesNotSpeak) {
    const auto tls = context({pki_.leaf("a")}, nullptr);
    const unsigned char both[] = "\x08http/1.1\x02h2";  // the client's order does not decide
    SSL_CTX_set_alpn_protos(client_ctx_.get(), both, sizeof both - 1);
    EXPECT_EQ(Handshake(*tls, client_ctx_.get(), "localhost").alpn(), "h2");
    EXPECT_EQ(Handshake(*tls, client_ctx_.get(), "localhost", nullptr, false).alpn(), "http/1.1")
        << "a listener with h2: false";
    const unsigned char h2_only[] = "\x02h2";
    SSL_CTX_set_alpn_protos(client_ctx_.get(), h2_only, sizeof h2_only - 1);
    EXPECT_EQ(Handshake(*tls, client_ctx_.get(), "localhost", nullptr, false).alpn(), "");
    const unsigned char unknown[] = "\x06spdy/3";
    SSL_CTX_set_alpn_protos(client_ctx_.get(), unknown, sizeof unknown - 1);
    Handshake h(*tls, client_ctx_.get(), "localhost");
    EXPECT_TRUE(h.done);  // no ALPN answer, still a connection (served as HTTP/1.1)
    EXPECT_EQ(h.alpn(), "");
}

TEST_F(Context, TicketsFromSharedKeysResumeOnAnotherContextAcrossOneRotationOnly) {
    const auto leaf = pki_.leaf("a");
    auto keys = std::make_shared<TicketKeys>();
    const auto worker1 = context({leaf}, keys);
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        SCOPED_TRACE(version);
        SSL_CTX_set_min_proto_version(client_ctx_.get(), version);
        SSL_CTX_set_max_proto_version(client_ctx_.get(), version);
        Handshake first(*worker1, client_ctx_.get(), "localhost");
        ASSERT_TRUE(first.done);
        SSL_SESSION* session = SSL_get1_session(first.client.get());
        ASSERT_NE(session, nullptr);
        // Another worker: its own context, the same keys as the master handed out.
        TicketKeys copy;
        ASSERT_TRUE(copy.from_wire(keys->to_wire()));
        auto worker2_keys = std::make_shared<TicketKeys>();
        worker2_keys->from_wire(keys->to_wire());
        const auto worker2 = context({leaf}, worker2_keys);
        Handshake again(*worker2, client_ctx_.get(), "localhost", session);
        EXPECT_TRUE(SSL_session_reused(again.client.get()));
        worker2_keys->rotate();  // the previous key still opens it
        Handshake after_one(*worker2, client_ctx_.get(), "localhost", session);
        EXPECT_TRUE(SSL_session_reused(after_one.client.get()));
        worker2_keys->rotate();  // now the key that sealed it is gone
        Handshake after_two(*worker2, client_ctx_.get(), "localhost", session);
        EXPECT_TRUE(after_two.done);
        EXPECT_FALSE(SSL_session_reused(after_two.client.get()));
        SSL_SESSION_free(session);
    }
}

TEST_F(Context, OnlyTls12And13WithAeadCiphersByDefault) {
    const auto tls = context({pki_.leaf("a")}, nullptr);
    SSL_CTX_set_min_proto_version(client_ctx_.get(), TLS1_1_VERSION);
    SSL_CTX_set_max_proto_version(client_ctx_.get(), TLS1_1_VERSION);
    SSL_CTX_set_security_level(client_ctx_.get(), 0);
    EXPECT_FALSE(Handshake(*tls, client_ctx_.get(), "localhost").done);
    SSL_CTX_set_max_proto_version(client_ctx_.get(), TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(client_ctx_.get(), "ECDHE-ECDSA-AES128-SHA256");  // CBC: refused
    EXPECT_FALSE(Handshake(*tls, client_ctx_.get(), "localhost").done);
    ERR_clear_error();
}

// The server's order decides (AES-128-GCM first), except for a client that puts
// ChaCha20 first, which gets it.
TEST_F(Context, TheServerOrdersSuitesButChaChaFirstClientsGetChaCha) {
    const auto tls = context({pki_.leaf("a")}, nullptr);
    const auto negotiated = [&](int version, const char* preference) {
        SSL_CTX_set_min_proto_version(client_ctx_.get(), version);
        SSL_CTX_set_max_proto_version(client_ctx_.get(), version);
        if (version == TLS1_3_VERSION)
            SSL_CTX_set_ciphersuites(client_ctx_.get(), preference);
        else
            SSL_CTX_set_cipher_list(client_ctx_.get(), preference);
        Handshake h(*tls, client_ctx_.get(), "localhost");
        EXPECT_TRUE(h.done);
        return std::string(SSL_get_cipher_name(h.server.get()));
    };
    EXPECT_EQ(negotiated(TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"), "TLS_AES_128_GCM_SHA256");
    EXPECT_EQ(negotiated(TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"),
              "TLS_CHACHA20_POLY1305_SHA256");
    EXPECT_EQ(negotiated(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"),
              "ECDHE-ECDSA-AES128-GCM-SHA256");
    EXPECT_EQ(negotiated(TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256"),
              "ECDHE-ECDSA-CHACHA20-POLY1305");
}

TEST(TlsConfig, ListenMappingsAndTheTlsSectionAreCheckedWithPositions) {
    test::TempDir dir;
    test::TestPki pki(dir.path());
    const auto leaf = pki.leaf("site");
    std::filesystem::create_directory(dir.path() / "root");
    auto errors_of = [&](const std::string& yaml) {
        dir.write("server.yaml", "root: root\n" + yaml + test::user_line());
        try {
            Config config = load_config_file(dir.path() / "server.yaml");
            validate(config);
        } catch (const ConfigError& e) {
            return e.errors();
        }
        return std::vector<std::string>{};
    };
    const std::string certs =
        "tls:\n  certificates:\n    - certificate: " + leaf.chain.string() + "\n      key: " + leaf.key.string() + "\n";
    EXPECT_TRUE(errors_of("listen: [\"127.0.0.1:8080\", {address: \"127.0.0.1:8443\", tls: true}]\n" + certs).empty());
    auto e = errors_of("listen: [{address: \"127.0.0.1:8443\", tls: true}]\n");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_NE(e[0].find("listen: a listener with tls: true needs tls.certificates"), std::string::npos) << e[0];
    e = errors_of("listen: [{address: \"127.0.0.1:8443\", tls: yes please}]\n");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_NE(e[0].find("server.yaml:2:43: listen: expected true or false"), std::string::npos) << e[0];
    e = errors_of("listen: [{address: \"127.0.0.1:80\", port: 8}]\n");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_NE(e[0].find("unknown key 'port'"), std::string::npos) << e[0];
    e = errors_of("listen: [{address: \"127.0.0.1:80\", tls: true, redirect_to_https: true}]\n" + certs);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_NE(e[0].find("cannot redirect to HTTPS"), std::string::npos) << e[0];
    // HTTP/2 per listener: h2 (on by default) for TLS ones, h2c (off by default) for plain ones.
    EXPECT_TRUE(errors_of("listen: [{address: \"127.0.0.1:8080\", h2c: true}, {address: \"127.0.0.1:8443\", tls: "
                          "true, h2: false}]\n" +
                          certs)
                    .empty());
    EXPECT_TRUE(errors_of("listen: [{address: \"127.0.0.1:8080\", h2: false}, {address: \"127.0.0.1:8443\", tls: "
                          "true, h2c: false}]\n" +
                          certs)
                    .empty())
        << "saying no is never an error";
    e = errors_of("listen: [{address: \"127.0.0.1:80\", h2: true}]\n");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_NE(e[0].find("h2 is for TLS listeners"), std::string::npos) << e[0];
    e = errors_of("listen: [{address: \"127.0.0.1:8443\", tls: true, h2c: true}]\n" + certs);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_NE(e[0].find("h2c is for plain listeners"), std::string::npos) << e[0];
    e = errors_of("listen: [{address: \"127.0.0.1:80\", redirect_to_https: true, h2c: true}]\n");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_NE(e[0].find("cannot also speak h2c"), std::string::npos) << e[0];
    e = errors_of("http2:\n  max_concurrent_streams: 0\n");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_NE(e[0].find("http2.max_concurrent_streams"), std::string::npos) << e[0];
    e = errors_of("listen: [{address: \"127.0.0.1:8443\", tls: true}]\n" + certs + "  ciphers: \"RC4-NOPE\"\n");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_NE(e[0].find("tls.ciphers: OpenSSL accepts none of 'RC4-NOPE'"), std::string::npos) << e[0];
    e = errors_of("listen: [{address: \"127.0.0.1:8443\", tls: true}]\n" + certs + "  ciphersuites: \"TLS_NOPE\"\n");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_NE(e[0].find("tls.ciphersuites: OpenSSL accepts none of 'TLS_NOPE'"), std::string::npos) << e[0];
    e = errors_of("listen: [{address: \"127.0.0.1:8443\", tls: true}]\n" + certs + "  protocols: [TLSv1.1]\n");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_NE(e[0].find("'TLSv1.1' is not offered"), std::string::npos) << e[0];
    e = errors_of(
        "listen: [{address: \"127.0.0.1:8443\", tls: true}]\ntls:\n  certificates:\n    - certificate: x.pem\n");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_NE(e[0].find("needs both certificate and key"), std::string::npos) << e[0];
}

}  // namespace
}  // namespace pywebd
