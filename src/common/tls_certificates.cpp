#include "tls_certificates.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "capabilities.hpp"
#include "strings.hpp"
#include "unique_fd.hpp"

namespace pywebd {
namespace {

constexpr long kExpiryWarningSeconds = 30L * 24 * 3600;

// The whole file, or an error text.
int no_passphrase(char*, int, int, void*) { return 0; }  // an encrypted key fails to load

bool read_file(const std::filesystem::path& path, std::string& out, std::string& error) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) {
        error = std::strerror(errno);
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        error = "not a regular file";
        return false;
    }
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    out.resize(done);
    return true;
}

std::string time_text(const ASN1_TIME* t) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    ASN1_TIME_print(bio.get(), t);
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(length));
}

std::vector<std::string> names_of(X509* cert) {
    std::vector<std::string> names;
    GeneralNamesPtr sans(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
        if (name->type != GEN_DNS) continue;
        const ASN1_STRING* dns = name->d.dNSName;
        names.push_back(to_lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                                  static_cast<std::size_t>(ASN1_STRING_length(dns)))));
    }
    if (names.empty()) {  // no subjectAltName: the common name, as old certificates have it
        char cn[256] = {};
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
            names.push_back(to_lower(cn));
    }
    return names;
}

class Checker {
public:
    Checker(const TlsCertificate& entry, std::time_t now, std::vector<std::string>& errors,
            std::vector<std::string>& warnings)
        : entry_(entry), now_(now), errors_(errors), warnings_(warnings) {}

    bool load(LoadedCertificate& out) {
        out.file = entry_.certificate.string();
        return load_chain(out) && check_chain(out) && load_key(out) && load_ocsp(out);
    }

private:
    bool fail(const std::string& what) {
        errors_.push_back(fmt::format("{}: tls.certificates: {}", entry_.origin, what));
        ERR_clear_error();
        return false;
    }

    bool load_chain(LoadedCertificate& out) {
        std::string pem, error;
        if (!read_file(entry_.certificate, pem, error))
            return fail(fmt::format("{}: {}", entry_.certificate.string(), error));
        BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
        out.leaf.reset(PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr));
        if (!out.leaf) return fail(fmt::format("{}: no PEM certificate in it", entry_.certificate.string()));
        while (X509* next = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.chain.emplace_back(next);
        ERR_clear_error();  // the end of the file reads as an error
        out.names = names_of(out.leaf.get());
        if (out.names.empty()) return fail(fmt::format("{}: names no host (no subjectAltName, no CN)", out.file));
        return true;
    }

    bool load_key(LoadedCertificate& out) {
        std::string pem, error;
        struct stat st {};
        if (::stat(entry_.key.c_str(), &st) == 0 && (st.st_mode & S_IROTH))
            warnings_.push_back(
                fmt::format("{}: tls.certificates: {} is readable by every user (mode {:04o}); keep "
                            "private keys 0600 or 0640",
                            entry_.origin, entry_.key.string(), st.st_mode & 07777));
        if (!read_file(entry_.key, pem, error)) return fail(fmt::format("{}: {}", entry_.key.string(), error));
        BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
        // No passphrase callback: OpenSSL's default would prompt on a terminal, and a
        // master under systemd (or reloading) has nobody to answer it.
        out.key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
        const bool encrypted = pem.find("ENCRYPTED") != std::string::npos;
        OPENSSL_cleanse(pem.data(), pem.size());
        if (!out.key && encrypted)
            return fail(
                fmt::format("{}: an encrypted private key; pywebd needs it unencrypted "
                            "(openssl pkey -in KEY -out KEY.plain, then chmod 600)",
                            entry_.key.string()));
        if (!out.key) return fail(fmt::format("{}: no PEM private key in it", entry_.key.string()));
        if (X509_check_private_key(out.leaf.get(), out.key.get()) != 1)
            return fail(fmt::format("{} does not match the certificate {}", entry_.key.string(), out.file));
        return true;
    }

    // Each certificate must be issued by the next one, and all of them valid now.
    bool check_chain(const LoadedCertificate& out) {
        std::vector<X509*> all{out.leaf.get()};
        for (const X509Ptr& c : out.chain) all.push_back(c.get());
        for (std::size_t i = 0; i < all.size(); ++i) {
            const char* which = i == 0 ? "the certificate" : "a chain certificate";
            if (i + 1 < all.size() && X509_check_issued(all[i + 1], all[i]) != X509_V_OK)
                return fail(
                    fmt::format("{}: the chain is out of order: certificate {} is not issued by certificate "
                                "{} (the leaf comes first, then each issuer)",
                                out.file, i + 1, i + 2));
            if (X509_cmp_time(X509_get0_notBefore(all[i]), &now_) > 0)
                return fail(fmt::format("{}: {} is not valid before {}", out.file, which,
                                        time_text(X509_get0_notBefore(all[i]))));
            if (X509_cmp_time(X509_get0_notAfter(all[i]), &now_) < 0)
                return fail(
                    fmt::format("{}: {} expired on {}", out.file, which, time_text(X509_get0_notAfter(all[i]))));
        }
        std::time_t soon = now_ + kExpiryWarningSeconds;
        if (X509_cmp_time(X509_get0_notAfter(out.leaf.get()), &soon) < 0)
            warnings_.push_back(fmt::format("{}: tls.certificates: {} expires on {}, within 30 days", entry_.origin,
                                            out.file, time_text(X509_get0_notAfter(out.leaf.get()))));
        return true;
    }

    // An OCSP response for this very certificate, "good", from its issuer, and current.
    bool load_ocsp(LoadedCertificate& out) {
        if (entry_.ocsp_response.empty()) return true;
        const std::string file = entry_.ocsp_response.string();
        std::string der, error;
        if (!read_file(entry_.ocsp_response, der, error)) return fail(fmt::format("{}: {}", file, error));
        const auto* p = reinterpret_cast<const unsigned char*>(der.data());
        OcspResponsePtr response(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
        if (!response) return fail(fmt::format("{}: not a DER OCSP response", file));
        if (OCSP_response_status(response.get()) != OCSP_RESPONSE_STATUS_SUCCESSFUL)
            return fail(fmt::format("{}: the OCSP responder did not answer successfully", file));
        OcspBasicPtr basic(OCSP_response_get1_basic(response.get()));
        if (!basic || out.chain.empty())
            return fail(fmt::format("{}: cannot be checked (no basic response, or no issuer in {})", file, out.file));
        X509* issuer = out.chain.front().get();
        X509StorePtr store(X509_STORE_new());
        X509_STORE_add_cert(store.get(), issuer);
        X509StackPtr certs(sk_X509_new_null());
        sk_X509_push(certs.get(), issuer);
        if (OCSP_basic_verify(basic.get(), certs.get(), store.get(), OCSP_TRUSTOTHER) != 1)
            return fail(fmt::format("{}: not signed for {}'s issuer", file, out.file));
        OcspCertIdPtr id(OCSP_cert_to_id(nullptr, out.leaf.get(), issuer));
        int status = -1, reason = 0;
        ASN1_GENERALIZEDTIME *revoked = nullptr, *this_update = nullptr, *next_update = nullptr;
        if (!id ||
            OCSP_resp_find_status(basic.get(), id.get(), &status, &reason, &revoked, &this_update, &next_update) != 1)
            return fail(fmt::format("{}: is about another certificate than {}", file, out.file));
        if (status != V_OCSP_CERTSTATUS_GOOD)
            return fail(fmt::format("{}: says {} is {}", file, out.file, OCSP_cert_status_str(status)));
        if (OCSP_check_validity(this_update, next_update, 300, -1) != 1) {
            warnings_.push_back(
                fmt::format("{}: tls.certificates: {} is out of date; not stapled until it is "
                            "refreshed (then reload)",
                            entry_.origin, file));
            ERR_clear_error();
            return true;
        }
        out.ocsp.assign(der.begin(), der.end());
        return true;
    }

    const TlsCertificate& entry_;
    std::time_t now_;
    std::vector<std::string>& errors_;
    std::vector<std::string>& warnings_;
};

}  // namespace

std::vector<LoadedCertificate> load_certificates(const TlsSettings& settings, std::time_t now,
                                                 std::vector<std::string>& errors, std::vector<std::string>& warnings) {
    std::vector<LoadedCertificate> loaded;
    const ReadProtectedFiles access;  // keys are root-only; the packaged master is not root
    for (const TlsCertificate& entry : settings.certificates) {
        LoadedCertificate certificate;
        if (Checker(entry, now, errors, warnings).load(certificate)) loaded.push_back(std::move(certificate));
    }
    return loaded;
}

}  // namespace pywebd
