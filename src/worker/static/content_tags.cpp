#include "static/content_tags.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "openssl_ptr.hpp"

namespace pywebd {
namespace {

constexpr std::size_t kReadBlock = 256 * 1024;

ETag quoted_base64url(const unsigned char* bytes, std::size_t n) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    ETag tag;
    std::size_t at = 0;
    tag.text[at++] = '"';
    std::uint32_t bits = 0;
    int held = 0;
    for (std::size_t i = 0; i < n; ++i) {
        bits = (bits << 8) | bytes[i];
        held += 8;
        while (held >= 6) {
            held -= 6;
            tag.text[at++] = kAlphabet[(bits >> held) & 63];
        }
    }
    if (held > 0) tag.text[at++] = kAlphabet[(bits << (6 - held)) & 63];
    tag.text[at++] = '"';
    tag.length = at;
    return tag;
}

}  // namespace

std::optional<ETag> ContentTags::tag(int fd, const struct stat& st) {
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > kMaxBytes) return std::nullopt;
    const FileVersion version = FileVersion::from(st);
    if (const auto it = tags_.find(version); it != tags_.end()) return it->second;
    const std::optional<ETag> tag = hash(fd, size);
    if (!tag) return std::nullopt;
    if (max_entries_ == 0) return tag;
    if (tags_.size() >= max_entries_) {
        tags_.erase(order_.front());
        order_.pop_front();
    }
    tags_.emplace(version, *tag);
    order_.push_back(version);
    return tag;
}

ETag ContentTags::metadata_tag(const struct stat& st) {
    ETag tag;
    const int n = std::snprintf(
        tag.text, sizeof tag.text, "\"%llx-%llx-%llx.%lx-%llx.%lx\"", static_cast<unsigned long long>(st.st_ino),
        static_cast<unsigned long long>(st.st_size), static_cast<unsigned long long>(st.st_mtim.tv_sec),
        static_cast<unsigned long>(st.st_mtim.tv_nsec), static_cast<unsigned long long>(st.st_ctim.tv_sec),
        static_cast<unsigned long>(st.st_ctim.tv_nsec));
    tag.length = std::min(static_cast<std::size_t>(n), sizeof tag.text - 1);
    return tag;
}

std::optional<ETag> ContentTags::hash(int fd, std::uint64_t size) {
    const EvpMdCtxPtr context(EVP_MD_CTX_new());
    if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) return std::nullopt;
    buffer_.resize(kReadBlock);
    std::uint64_t done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, buffer_.data(), buffer_.size(), static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return std::nullopt;  // shorter than its fstat said: changing under us
        EVP_DigestUpdate(context.get(), buffer_.data(), static_cast<std::size_t>(n));
        done += static_cast<std::uint64_t>(n);
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    if (EVP_DigestFinal_ex(context.get(), digest, &length) != 1 || length < 16) return std::nullopt;
    return quoted_base64url(digest, 16);
}

}  // namespace pywebd
