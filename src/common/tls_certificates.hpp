#pragma once

// Certificates as the master loads them for HTTPS: each chain and key read from its
// files (by the master only: workers never open key files) and checked the way an
// operator needs it checked before a bad one can reach a client.

#include <ctime>
#include <string>
#include <vector>

#include "config.hpp"
#include "openssl_ptr.hpp"

namespace pywebd {

struct LoadedCertificate {
    X509Ptr leaf;
    std::vector<X509Ptr> chain;  // the intermediates, as the file lists them after the leaf
    EvpPkeyPtr key;
    std::vector<std::string> names;   // subjectAltName DNS names, lower case (the CN if none)
    std::vector<unsigned char> ocsp;  // a valid OCSP response to staple (DER), or empty
    std::string file;                 // the certificate file, for logs
};

// Loads every certificate of `settings`. A problem that would break clients is an error
// naming the file (unreadable, no certificate, a key that is not a key or does not match
// its certificate, a chain out of order, a certificate expired or not yet valid, an OCSP
// response for another certificate or not "good"); what an operator should know but
// that serves is a warning (a key file others may read, a certificate expiring within 30
// days, an OCSP response out of date, which is then not stapled).
std::vector<LoadedCertificate> load_certificates(const TlsSettings& settings, std::time_t now,
                                                 std::vector<std::string>& errors, std::vector<std::string>& warnings);

}  // namespace pywebd
