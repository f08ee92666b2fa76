#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <array>
#include <cstddef>
#include <span>

namespace pywebd {

// The keys of TLS session tickets, shared by every worker: the master makes them and
// hands them out, so a client resumes on whichever worker it reaches. The current key
// seals new tickets; the previous one still opens what it sealed (and the ticket is then
// renewed under the current one), so a rotation does not cut resumption short.
class TicketKeys {
public:
    struct Key {
        std::array<unsigned char, 16> name;
        std::array<unsigned char, 32> hmac;
        std::array<unsigned char, 32> aes;
    };
    static constexpr std::size_t kWireSize = 2 * sizeof(Key) + 1;

    TicketKeys();  // a fresh current key and no previous one
    ~TicketKeys();
    TicketKeys(const TicketKeys&) = delete;
    TicketKeys& operator=(const TicketKeys&) = delete;

    void rotate();  // the master, on schedule: previous = current, current = new
    // How the master sends them to a worker, and the worker takes them.
    std::array<unsigned char, kWireSize> to_wire() const;
    bool from_wire(std::span<const unsigned char> wire);

    const Key& current() const { return current_; }
    const Key* find(std::span<const unsigned char, 16> name) const;

    // OpenSSL's ticket callback; the keys are the SSL_CTX's app data.
    static int callback(SSL* ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX* cipher,
                        EVP_MAC_CTX* mac, int encrypt);

private:
    Key current_{};
    Key previous_{};
    bool has_previous_ = false;
};

}  // namespace pywebd
