#pragma once

// Certificates for tests, made with OpenSSL's API: a CA, and leaves it signs with the
// names, key type and validity a test asks for, written as PEM files.

#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace pywebd::test {

struct LeafOptions {
    std::vector<std::string> names = {"localhost"};
    bool rsa = false;                // else ECDSA P-256
    long valid_from = -3600;         // seconds from now
    long valid_until = 90L * 86400;  // seconds from now
    bool chain_reversed = false;     // write the CA before the leaf
    std::string ocsp_url;            // set: an Authority Information Access OCSP URI
    std::string crl_url;             // set: a CRL distribution point
    std::string passphrase;          // set: the key file is encrypted with it
};

struct LeafFiles {
    std::filesystem::path chain;  // leaf, then the CA
    std::filesystem::path key;    // 0600
};

class TestPki {
public:
    explicit TestPki(std::filesystem::path dir);  // makes the CA, writes ca.pem
    ~TestPki();
    TestPki(const TestPki&) = delete;
    TestPki& operator=(const TestPki&) = delete;

    LeafFiles leaf(const std::string& stem, const LeafOptions& options = {});
    const std::filesystem::path& ca_file() const { return ca_file_; }
    // An OCSP response (DER) from the CA saying the leaf of `chain` is good, valid for
    // [now + this_update, now + next_update].
    std::filesystem::path ocsp_good(const std::string& stem, const LeafFiles& leaf, long this_update = -60,
                                    long next_update = 86400);

private:
    struct State;
    std::filesystem::path dir_;
    std::filesystem::path ca_file_;
    std::unique_ptr<State> state_;
};

}  // namespace pywebd::test
