#pragma once

// What a generation's HTTPS listeners accept connections with: one SSL_CTX per set of
// host names (an RSA and an ECDSA certificate for the same names share one, and the
// client's signature algorithms choose), the certificate picked by SNI, ALPN, shared
// session tickets and OCSP stapling. Built by the master before it forks, so workers
// never read a key file; they make one SSL per connection from it.

#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "config.hpp"
#include "openssl_ptr.hpp"
#include "ticket_keys.hpp"
#include "tls_certificates.hpp"

namespace pywebd {

// A TLS setting OpenSSL refuses (a cipher string, groups), with the key it is about.
class TlsError : public std::runtime_error {
public:
    TlsError(std::string key, const std::string& message) : std::runtime_error(message), key_(std::move(key)) {}
    const std::string& key() const { return key_; }

private:
    std::string key_;
};

// Whether this kernel can do TLS itself (the "tls" upper-layer protocol is available).
bool kernel_offers_ktls();

class TlsContext {
public:
    // `keys` may be null when tickets are off (or for a check that serves nothing).
    TlsContext(const TlsSettings& settings, std::vector<LoadedCertificate> certificates,
               std::shared_ptr<TicketKeys> keys);
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    // A server-side SSL for a freshly accepted connection, or null (out of memory).
    // `offer_h2`: its listener offers HTTP/2 by ALPN.
    SslPtr accept(int fd, bool offer_h2) const;
    bool ktls() const { return ktls_; }  // kernel TLS asked for and offered by the kernel

private:
    struct Stapled {  // per SSL_CTX: the OCSP response of each of its certificates
        std::vector<std::pair<X509*, std::vector<unsigned char>>> responses;
    };

    void add_context(const TlsSettings& settings, const std::vector<std::string>& names);
    SSL_CTX* context_for(const std::string& host) const;
    static int on_servername(SSL* ssl, int* alert, void* self);
    static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                       unsigned in_length, void* self);
    static int on_status(SSL* ssl, void* stapled);

    std::vector<LoadedCertificate> certificates_;  // owns what the contexts point to
    std::vector<SslCtxPtr> contexts_;              // [0]: the default, for clients without a known SNI name
    std::vector<std::unique_ptr<Stapled>> stapled_;
    std::unordered_map<std::string, SSL_CTX*> exact_;     // "www.example.org"
    std::unordered_map<std::string, SSL_CTX*> wildcard_;  // "*.example.org" stored as "example.org"
    std::shared_ptr<TicketKeys> keys_;
    bool ktls_ = false;
};

}  // namespace pywebd
