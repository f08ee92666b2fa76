#include "ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace pywebd {
namespace {

TicketKeys::Key fresh_key() {
    TicketKeys::Key key;
    if (RAND_bytes(key.name.data(), static_cast<int>(key.name.size())) != 1 ||
        RAND_bytes(key.hmac.data(), static_cast<int>(key.hmac.size())) != 1 ||
        RAND_bytes(key.aes.data(), static_cast<int>(key.aes.size())) != 1)
        throw std::runtime_error("cannot make a session ticket key: no randomness");
    return key;
}

bool use(const TicketKeys::Key& key, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, const unsigned char* iv, int encrypt) {
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(
                               OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.hmac.data()), key.hmac.size()),
                           OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
                           OSSL_PARAM_construct_end()};
    return EVP_MAC_CTX_set_params(mac, params) == 1 &&
           EVP_CipherInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv, encrypt) == 1;
}

}  // namespace

TicketKeys::TicketKeys() : current_(fresh_key()) {}

TicketKeys::~TicketKeys() {
    OPENSSL_cleanse(&current_, sizeof current_);
    OPENSSL_cleanse(&previous_, sizeof previous_);
}

void TicketKeys::rotate() {
    previous_ = current_;
    has_previous_ = true;
    current_ = fresh_key();
}

std::array<unsigned char, TicketKeys::kWireSize> TicketKeys::to_wire() const {
    std::array<unsigned char, kWireSize> wire{};
    std::memcpy(wire.data(), &current_, sizeof(Key));
    std::memcpy(wire.data() + sizeof(Key), &previous_, sizeof(Key));
    wire.back() = has_previous_ ? 1 : 0;
    return wire;
}

bool TicketKeys::from_wire(std::span<const unsigned char> wire) {
    if (wire.size() != kWireSize) return false;
    std::memcpy(&current_, wire.data(), sizeof(Key));
    std::memcpy(&previous_, wire.data() + sizeof(Key), sizeof(Key));
    has_previous_ = wire.back() == 1;
    return true;
}

const TicketKeys::Key* TicketKeys::find(std::span<const unsigned char, 16> name) const {
    if (std::equal(name.begin(), name.end(), current_.name.begin())) return &current_;
    if (has_previous_ && std::equal(name.begin(), name.end(), previous_.name.begin())) return &previous_;
    return nullptr;
}

// RFC 5077's layout, as OpenSSL expects of this callback: returns 1 (sealed, or opened
// with the current key), 2 (opened with the previous key: issue a fresh ticket), 0 (a
// key we no longer have: a full handshake), -1 (failure).
int TicketKeys::callback(SSL* ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX* cipher,
                         EVP_MAC_CTX* mac, int encrypt) {
    const auto* keys = static_cast<const TicketKeys*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    if (keys == nullptr) return -1;
    if (encrypt == 1) {
        const Key& key = keys->current_;
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
        std::memcpy(name, key.name.data(), key.name.size());
        return use(key, cipher, mac, iv, 1) ? 1 : -1;
    }
    const Key* key = keys->find(std::span<const unsigned char, 16>(name, 16));
    if (key == nullptr) return 0;
    if (!use(*key, cipher, mac, iv, 0)) return -1;
    return key == &keys->current_ ? 1 : 2;
}

}  // namespace pywebd
