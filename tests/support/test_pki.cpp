#include "test_pki.hpp"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace pywebd::test {
namespace {

EVP_PKEY* new_key(bool rsa) {
    EVP_PKEY* key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    if (key == nullptr) throw std::runtime_error("key generation failed");
    return key;
}

void set_name(X509_NAME* name, const std::string& cn) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) throw std::runtime_error("bad extension " + value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

X509* new_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, long from, long until, long serial) {
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), from);
    X509_gmtime_adj(X509_getm_notAfter(cert), until);
    X509_set_pubkey(cert, key);
    set_name(X509_get_subject_name(cert), cn);
    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(cert));
    return cert;
}

void write_pem(const std::filesystem::path& path, const std::vector<X509*>& certs, EVP_PKEY* key, mode_t mode) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) throw std::runtime_error("cannot write " + path.string());
    for (X509* c : certs) PEM_write_X509(f, c);
    if (key) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    ::chmod(path.c_str(), mode);
}

}  // namespace

struct TestPki::State {
    EVP_PKEY* ca_key = nullptr;
    X509* ca = nullptr;
    long next_serial = 2;
    ~State() {
        X509_free(ca);
        EVP_PKEY_free(ca_key);
    }
};

TestPki::TestPki(std::filesystem::path dir) : dir_(std::move(dir)), state_(new State) {
    state_->ca_key = new_key(false);
    state_->ca = new_cert(state_->ca_key, "pywebd test CA", nullptr, -86400, 10L * 365 * 86400, 1);
    add_extension(state_->ca, state_->ca, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(state_->ca, state_->ca, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(state_->ca, state_->ca, NID_subject_key_identifier, "hash");
    X509_sign(state_->ca, state_->ca_key, EVP_sha256());
    ca_file_ = dir_ / "ca.pem";
    write_pem(ca_file_, {state_->ca}, nullptr, 0644);
}

TestPki::~TestPki() { delete state_; }

LeafFiles TestPki::leaf(const std::string& stem, const LeafOptions& options) {
    EVP_PKEY* key = new_key(options.rsa);
    X509* cert = new_cert(key, options.names.front(), state_->ca, options.valid_from, options.valid_until,
                          state_->next_serial++);
    std::string sans;
    for (const std::string& name : options.names) sans += (sans.empty() ? "DNS:" : ",DNS:") + name;
    add_extension(cert, state_->ca, NID_subject_alt_name, sans);
    add_extension(cert, state_->ca, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert, state_->ca, NID_ext_key_usage, "serverAuth");
    add_extension(cert, state_->ca, NID_authority_key_identifier, "keyid");
    X509_sign(cert, state_->ca_key, EVP_sha256());
    LeafFiles files{dir_ / (stem + ".pem"), dir_ / (stem + ".key")};
    write_pem(files.chain,
              options.chain_reversed ? std::vector<X509*>{state_->ca, cert} : std::vector<X509*>{cert, state_->ca},
              nullptr, 0644);
    write_pem(files.key, {}, key, 0600);
    X509_free(cert);
    EVP_PKEY_free(key);
    return files;
}

std::filesystem::path TestPki::ocsp_good(const std::string& stem, const LeafFiles& leaf, long this_update,
                                         long next_update) {
    FILE* f = std::fopen(leaf.chain.c_str(), "r");
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    OCSP_CERTID* id = OCSP_cert_to_id(nullptr, cert, state_->ca);
    OCSP_BASICRESP* basic = OCSP_BASICRESP_new();
    ASN1_TIME* now = X509_gmtime_adj(nullptr, this_update);
    ASN1_TIME* next = X509_gmtime_adj(nullptr, next_update);
    OCSP_basic_add1_status(basic, id, V_OCSP_CERTSTATUS_GOOD, 0, nullptr, now, next);
    OCSP_basic_sign(basic, state_->ca, state_->ca_key, EVP_sha256(), nullptr, 0);
    OCSP_RESPONSE* response = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic);
    const auto path = dir_ / (stem + ".ocsp.der");
    unsigned char* der = nullptr;
    const int length = i2d_OCSP_RESPONSE(response, &der);
    FILE* out = std::fopen(path.c_str(), "wb");
    std::fwrite(der, 1, static_cast<std::size_t>(length), out);
    std::fclose(out);
    OPENSSL_free(der);
    OCSP_RESPONSE_free(response);
    OCSP_BASICRESP_free(basic);
    ASN1_TIME_free(now);
    ASN1_TIME_free(next);
    OCSP_CERTID_free(id);
    X509_free(cert);
    return path;
}

}  // namespace pywebd::test
