#include "test_pki.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <stdexcept>

#include "openssl_ptr.hpp"

namespace pywebd::test {
namespace {

void close_file(FILE* f) { std::fclose(f); }
void free_der(unsigned char* der) { OPENSSL_free(der); }
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OpenSslFree<ASN1_TIME_free>>;
using FilePtr = std::unique_ptr<FILE, OpenSslFree<close_file>>;
using DerPtr = std::unique_ptr<unsigned char, OpenSslFree<free_der>>;

EvpPkeyPtr new_key(bool rsa) {
    EvpPkeyPtr key(rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"));
    if (!key) throw std::runtime_error("key generation failed");
    return key;
}

void set_name(X509_NAME* name, const std::string& cn) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    const std::unique_ptr<X509_EXTENSION, OpenSslFree<X509_EXTENSION_free>> ext(
        X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext) throw std::runtime_error("bad extension " + value);
    X509_add_ext(cert, ext.get(), -1);
}

// 127 random bits, as CAs must give (CA/Browser Forum: at least 64), so no two match.
void set_random_serial(X509* cert) {
    const std::unique_ptr<BIGNUM, OpenSslFree<BN_free>> serial(BN_new());
    BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
    BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert));
}

X509Ptr new_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, long from, long until) {
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    set_random_serial(cert.get());
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), from);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), until);
    X509_set_pubkey(cert.get(), key);
    set_name(X509_get_subject_name(cert.get()), cn);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(cert.get()));
    return cert;
}

FilePtr open_file(const std::filesystem::path& path, const char* mode) {
    FilePtr f(std::fopen(path.c_str(), mode));
    if (!f) throw std::runtime_error("cannot open " + path.string());
    return f;
}

void write_pem(const std::filesystem::path& path, const std::vector<X509*>& certs, EVP_PKEY* key, mode_t mode,
               const std::string& passphrase = "") {
    {
        const FilePtr f = open_file(path, "w");
        for (X509* c : certs) PEM_write_X509(f.get(), c);
        if (key && passphrase.empty()) PEM_write_PrivateKey(f.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
        if (key && !passphrase.empty())
            PEM_write_PrivateKey(f.get(), key, EVP_aes_256_cbc(),
                                 reinterpret_cast<const unsigned char*>(passphrase.data()),
                                 static_cast<int>(passphrase.size()), nullptr, nullptr);
    }
    ::chmod(path.c_str(), mode);
}

}  // namespace

struct TestPki::State {
    EvpPkeyPtr ca_key;
    X509Ptr ca;
};

TestPki::TestPki(std::filesystem::path dir) : dir_(std::move(dir)), state_(std::make_unique<State>()) {
    state_->ca_key = new_key(false);
    state_->ca = new_cert(state_->ca_key.get(), "pywebd test CA", nullptr, -86400, 10L * 365 * 86400);
    X509* ca = state_->ca.get();
    add_extension(ca, ca, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(ca, ca, NID_subject_key_identifier, "hash");
    X509_sign(ca, state_->ca_key.get(), EVP_sha256());
    ca_file_ = dir_ / "ca.pem";
    write_pem(ca_file_, {ca}, nullptr, 0644);
}

TestPki::~TestPki() = default;

LeafFiles TestPki::leaf(const std::string& stem, const LeafOptions& options) {
    const EvpPkeyPtr key = new_key(options.rsa);
    X509* ca = state_->ca.get();
    const X509Ptr cert = new_cert(key.get(), options.names.front(), ca, options.valid_from, options.valid_until);
    std::string sans;
    for (const std::string& name : options.names) {  // an IPv4 literal is an IP address SAN
        const bool ip = name.find_first_not_of("0123456789.") == std::string::npos;
        sans += (sans.empty() ? "" : ",") + std::string(ip ? "IP:" : "DNS:") + name;
    }
    add_extension(cert.get(), ca, NID_subject_alt_name, sans);
    add_extension(cert.get(), ca, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), ca, NID_key_usage,
                  options.rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature");
    add_extension(cert.get(), ca, NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), ca, NID_authority_key_identifier, "keyid");
    if (!options.ocsp_url.empty()) add_extension(cert.get(), ca, NID_info_access, "OCSP;URI:" + options.ocsp_url);
    if (!options.crl_url.empty()) add_extension(cert.get(), ca, NID_crl_distribution_points, "URI:" + options.crl_url);
    X509_sign(cert.get(), state_->ca_key.get(), EVP_sha256());
    LeafFiles files{dir_ / (stem + ".pem"), dir_ / (stem + ".key")};
    write_pem(files.chain,
              options.chain_reversed ? std::vector<X509*>{ca, cert.get()} : std::vector<X509*>{cert.get(), ca}, nullptr,
              0644);
    write_pem(files.key, {}, key.get(), 0600, options.passphrase);
    return files;
}

std::filesystem::path TestPki::ocsp_good(const std::string& stem, const LeafFiles& leaf, long this_update,
                                         long next_update) {
    X509Ptr cert;
    {
        const FilePtr in = open_file(leaf.chain, "r");
        cert.reset(PEM_read_X509(in.get(), nullptr, nullptr, nullptr));
    }
    if (!cert) throw std::runtime_error("no certificate in " + leaf.chain.string());
    X509* ca = state_->ca.get();
    const OcspCertIdPtr id(OCSP_cert_to_id(nullptr, cert.get(), ca));
    const OcspBasicPtr basic(OCSP_BASICRESP_new());
    const Asn1TimePtr now(X509_gmtime_adj(nullptr, this_update));
    const Asn1TimePtr next(X509_gmtime_adj(nullptr, next_update));
    OCSP_basic_add1_status(basic.get(), id.get(), V_OCSP_CERTSTATUS_GOOD, 0, nullptr, now.get(), next.get());
    OCSP_basic_sign(basic.get(), ca, state_->ca_key.get(), EVP_sha256(), nullptr, 0);
    const OcspResponsePtr response(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic.get()));
    const auto path = dir_ / (stem + ".ocsp.der");
    unsigned char* der = nullptr;
    const int length = i2d_OCSP_RESPONSE(response.get(), &der);
    const DerPtr owned(der);
    const FilePtr out = open_file(path, "wb");
    std::fwrite(owned.get(), 1, static_cast<std::size_t>(length), out.get());
    return path;
}

}  // namespace pywebd::test
