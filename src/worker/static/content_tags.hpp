#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "http/file_facts.hpp"

namespace pywebd {

// Strong entity tags from a file's bytes (`etag: content`): the first 128 bits of its
// SHA-256 in base64url, so identical files have identical tags on every machine whatever
// their inodes and mtimes (reproducible builds with zeroed mtimes stay cacheable). A file
// is read and hashed once per version — device, inode, size and mtime — and its tag
// remembered (at most `max_entries`, the oldest forgotten first; a version includes the
// ctime, which any rewrite in place changes, so bytes rewritten with the same size and
// a reset mtime are still a new version). Hashing reads the whole file in the event
// loop, so files above kMaxBytes (about 12 ms of SHA-256 here) keep the metadata tag.
class ContentTags {
public:
    explicit ContentTags(std::size_t max_entries) : max_entries_(max_entries) {}

    // The tag of the file open on `fd`, `st` its fstat; nullopt when it is too large or
    // could not be read whole (it changed under us): the caller falls back to make_etag.
    std::optional<ETag> tag(int fd, const struct stat& st);
    std::size_t remembered() const { return tags_.size(); }
    // For a file too large to hash: the metadata tag with the ctime in it too, so bytes
    // rewritten in place with a reset mtime still change it.
    static ETag metadata_tag(const struct stat& st);

    static constexpr std::uint64_t kMaxBytes = 16ull << 20;

private:
    std::optional<ETag> hash(int fd, std::uint64_t size);

    std::size_t max_entries_;
    std::unordered_map<FileVersion, ETag, FileVersionHash> tags_;
    std::deque<FileVersion> order_;      // insertion order, for eviction
    std::vector<unsigned char> buffer_;  // reused for every read
};

}  // namespace pywebd
