#include "tls_context.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "strings.hpp"
#include "unique_fd.hpp"

namespace pywebd {
namespace {

constexpr unsigned char kSessionContext[] = "pywebd";
constexpr std::string_view kHttp11 = "http/1.1";
constexpr std::string_view kH2 = "h2";
// What SSL_get_app_data() holds for a connection whose listener offers h2.
constexpr char kOffersH2 = 1;

template <typename Function>
void (*as_callback(Function* function))(void) {
    return reinterpret_cast<void (*)(void)>(function);
}

int version_of(const std::string& name) { return name == "TLSv1.3" ? TLS1_3_VERSION : TLS1_2_VERSION; }

void apply(SSL_CTX* ctx, const TlsSettings& settings, bool ktls) {
    int low = TLS1_3_VERSION, high = TLS1_2_VERSION;
    for (const std::string& p : settings.protocols) {
        low = std::min(low, version_of(p));
        high = std::max(high, version_of(p));
    }
    SSL_CTX_set_min_proto_version(ctx, low);
    SSL_CTX_set_max_proto_version(ctx, high);
    if (SSL_CTX_set_cipher_list(ctx, settings.ciphers.c_str()) != 1)
        throw TlsError("tls.ciphers",
                       fmt::format("OpenSSL accepts none of '{}' ({})", settings.ciphers, openssl_errors()));
    if (SSL_CTX_set_ciphersuites(ctx, settings.ciphersuites.c_str()) != 1)
        throw TlsError("tls.ciphersuites",
                       fmt::format("OpenSSL accepts none of '{}' ({})", settings.ciphersuites, openssl_errors()));
    if (SSL_CTX_set1_groups_list(ctx, settings.groups.c_str()) != 1)
        throw TlsError("tls.groups", fmt::format("OpenSSL does not know '{}' ({})", settings.groups, openssl_errors()));
    // No compression (CRIME), no renegotiation, no 0-RTT (not enabled: early data stays 0).
    // The server's order of suites (AES-GCM first: hardware makes it the cheapest), except
    // for a client that puts ChaCha20 first (one without AES instructions, most often).
    std::uint64_t options =
        SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA;
    if (!settings.session_tickets) options |= SSL_OP_NO_TICKET;
    if (ktls) options |= SSL_OP_ENABLE_KTLS;
    SSL_CTX_set_options(ctx, options);
    // Idle connections give their record buffers back; writes may be partial and retried
    // from another place in memory (the session rebuilds the same bytes).
    SSL_CTX_set_mode(ctx,
                     SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1);  // one read per socket read, not one per record header
    // Resumption is by tickets only (stateless, so any worker can open them); a session
    // cache would be per worker.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    SSL_CTX_set_num_tickets(ctx, settings.session_tickets ? 1 : 0);
    // A ticket sealed just after a rotation opens for two periods (as current, then as
    // previous): its lifetime. One sealed later simply falls back to a full handshake.
    SSL_CTX_set_timeout(ctx, static_cast<long>(2 * settings.ticket_rotation.count() / 1000));
}

}  // namespace

bool kernel_offers_ktls() {
    UniqueFd fd(::open("/proc/sys/net/ipv4/tcp_available_ulp", O_RDONLY | O_CLOEXEC));
    char text[256] = {};
    if (!fd || ::read(fd.get(), text, sizeof text - 1) <= 0) return false;
    std::string_view list(text);
    for (std::size_t at = 0; (at = list.find("tls", at)) != std::string_view::npos; at += 3) {
        const bool starts = at == 0 || list[at - 1] == ' ';
        const bool ends = at + 3 == list.size() || list[at + 3] == ' ' || list[at + 3] == '\n';
        if (starts && ends) return true;
    }
    return false;
}

TlsContext::TlsContext(const TlsSettings& settings, std::vector<LoadedCertificate> certificates,
                       std::shared_ptr<TicketKeys> keys)
    : certificates_(std::move(certificates)), keys_(std::move(keys)), ktls_(settings.ktls && kernel_offers_ktls()) {
    if (certificates_.empty()) throw TlsError("tls.certificates", "no usable certificate");
    // Certificates for the same set of names share a context: RSA beside ECDSA.
    std::map<std::vector<std::string>, std::size_t> by_names;
    for (LoadedCertificate& cert : certificates_) {
        std::vector<std::string> names = cert.names;
        std::sort(names.begin(), names.end());
        const auto [slot, fresh] = by_names.emplace(names, contexts_.size());
        if (fresh) add_context(settings, cert.names);
        SSL_CTX* ctx = contexts_[slot->second].get();
        X509StackPtr chain(sk_X509_new_null());
        for (const X509Ptr& c : cert.chain) sk_X509_push(chain.get(), c.get());
        if (SSL_CTX_use_cert_and_key(ctx, cert.leaf.get(), cert.key.get(), chain.get(), 1) != 1)
            throw TlsError("tls.certificates", fmt::format("{}: cannot be used: {}", cert.file, openssl_errors()));
        if (!cert.ocsp.empty()) stapled_[slot->second]->responses.emplace_back(cert.leaf.get(), cert.ocsp);
    }
}

void TlsContext::add_context(const TlsSettings& settings, const std::vector<std::string>& names) {
    SslCtxPtr owned(SSL_CTX_new(TLS_server_method()));
    SSL_CTX* ctx = owned.get();
    if (ctx == nullptr) throw TlsError("tls", "cannot create a TLS context: " + openssl_errors());
    apply(ctx, settings, ktls_);
    stapled_.push_back(std::make_unique<Stapled>());
    // The set_tlsext_*_callback macros hide a C cast; these are the calls they make.
    SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB, as_callback(on_servername));
    SSL_CTX_set_tlsext_servername_arg(ctx, this);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, this);
    SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB, as_callback(on_status));
    SSL_CTX_set_tlsext_status_arg(ctx, stapled_.back().get());
    if (keys_) {
        SSL_CTX_set_app_data(ctx, keys_.get());
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, TicketKeys::callback);
    }
    for (const std::string& name : names) {
        if (name.starts_with("*."))
            wildcard_.emplace(name.substr(2), ctx);
        else
            exact_.emplace(name, ctx);
    }
    contexts_.push_back(std::move(owned));
}

SslPtr TlsContext::accept(int fd, bool offer_h2) const {
    SslPtr ssl(SSL_new(contexts_.front().get()));
    if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) return nullptr;
    if (offer_h2) SSL_set_app_data(ssl.get(), const_cast<char*>(&kOffersH2));
    SSL_set_accept_state(ssl.get());
    return ssl;
}

SSL_CTX* TlsContext::context_for(const std::string& host) const {
    if (const auto it = exact_.find(host); it != exact_.end()) return it->second;
    const auto dot = host.find('.');  // "*.example.org" covers one label: "www.example.org"
    if (dot != std::string::npos)
        if (const auto it = wildcard_.find(host.substr(dot + 1)); it != wildcard_.end()) return it->second;
    return nullptr;
}

// SNI: the certificate for the name the client asks for; the default for an unknown
// name or none, as nginx does (the client decides whether to trust it).
int TlsContext::on_servername(SSL* ssl, int*, void* self) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr) return SSL_TLSEXT_ERR_OK;
    std::string host = to_lower(name);
    if (!host.empty() && host.back() == '.') host.pop_back();
    if (SSL_CTX* ctx = static_cast<const TlsContext*>(self)->context_for(host); ctx != nullptr)
        SSL_set_SSL_CTX(ssl, ctx);
    return SSL_TLSEXT_ERR_OK;
}

// ALPN, in the server's order: h2 where the listener offers it, then HTTP/1.1; a client
// offering only protocols we do not speak gets no ALPN answer and HTTP/1.1 (RFC 7301
// allows the server to ignore them).
int TlsContext::on_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                        unsigned in_length, void*) {
    const bool h2_allowed = SSL_get_app_data(ssl) != nullptr;
    const unsigned char* http11 = nullptr;
    for (unsigned at = 0; at < in_length;) {
        const unsigned length = in[at];
        if (at + 1 + length > in_length) break;
        const std::string_view offered(reinterpret_cast<const char*>(in + at + 1), length);
        if (offered == kH2 && h2_allowed) {
            *out = in + at + 1;
            *out_length = static_cast<unsigned char>(length);
            return SSL_TLSEXT_ERR_OK;
        }
        if (offered == kHttp11) http11 = in + at + 1;
        at += 1 + length;
    }
    if (http11 == nullptr) return SSL_TLSEXT_ERR_NOACK;
    *out = http11;
    *out_length = static_cast<unsigned char>(kHttp11.size());
    return SSL_TLSEXT_ERR_OK;
}

// OCSP stapling: the response for the certificate this connection uses, when there is one.
int TlsContext::on_status(SSL* ssl, void* stapled) {
    const X509* cert = SSL_get_certificate(ssl);
    for (const auto& [leaf, der] : static_cast<const Stapled*>(stapled)->responses) {
        if (leaf != cert) continue;
        auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(der.size()));  // OpenSSL frees it
        if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
        std::memcpy(copy, der.data(), der.size());
        SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(der.size()));
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace pywebd
