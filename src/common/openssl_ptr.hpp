#pragma once

// Owners for OpenSSL objects (each freed by its own function) and the error queue as
// text, so no OpenSSL object is ever freed by hand.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace pywebd {

template <auto Free>
struct OpenSslFree {
    template <typename T>
    void operator()(T* p) const noexcept {
        Free(p);
    }
};

using BioPtr = std::unique_ptr<BIO, OpenSslFree<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslFree<EVP_MD_CTX_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, OpenSslFree<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpenSslFree<SSL_free>>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, OpenSslFree<SSL_SESSION_free>>;
using OcspResponsePtr = std::unique_ptr<OCSP_RESPONSE, OpenSslFree<OCSP_RESPONSE_free>>;
using OcspBasicPtr = std::unique_ptr<OCSP_BASICRESP, OpenSslFree<OCSP_BASICRESP_free>>;
using OcspCertIdPtr = std::unique_ptr<OCSP_CERTID, OpenSslFree<OCSP_CERTID_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslFree<X509_STORE_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslFree<GENERAL_NAMES_free>>;

inline void free_x509_stack(STACK_OF(X509) * stack) { sk_X509_free(stack); }  // the X509s are owned elsewhere
using X509StackPtr = std::unique_ptr<STACK_OF(X509), OpenSslFree<free_x509_stack>>;

// The reasons OpenSSL queued, oldest first, joined with "; " (and the queue cleared).
std::string openssl_errors();

}  // namespace pywebd
