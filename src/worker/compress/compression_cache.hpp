#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "http/content_coding.hpp"
#include "http/file_facts.hpp"

namespace pywebd {

// A worker's compressed variants of files, keyed by the file's version and the coding,
// so a hot file is compressed once whatever path or site reaches it, and a file changed
// on disk is a new key (its old variant ages out). Bounded by a byte budget, the least
// recently used dropped first; one variant may take at most an eighth of it, so a large
// file cannot flush everything else. Responses hold variants by shared_ptr: dropping one
// never pulls bytes from under a response being sent.
class CompressionCache {
public:
    explicit CompressionCache(std::size_t budget_bytes) : budget_(budget_bytes) {}

    using Bytes = std::shared_ptr<const std::string>;

    Bytes find(const FileVersion& file, http::Coding coding);
    // Whether a variant of a file this large is worth collecting while it is made: text
    // compresses to a quarter or less, so it may fit.
    bool admits(std::uint64_t input_size) const { return input_size / 4 <= max_entry() && max_entry() > 0; }
    void insert(const FileVersion& file, http::Coding coding, Bytes bytes);

    std::size_t bytes() const { return bytes_; }
    std::size_t entries() const { return index_.size(); }
    std::uint64_t hits() const { return hits_; }
    std::uint64_t misses() const { return misses_; }

private:
    struct Key {
        FileVersion file;
        http::Coding coding;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        std::size_t operator()(const Key& key) const noexcept {
            return FileVersionHash{}(key.file) ^ static_cast<std::size_t>(key.coding);
        }
    };
    struct Entry {
        Key key;
        Bytes bytes;
    };
    std::size_t max_entry() const { return budget_ / 8; }

    std::size_t budget_;
    std::size_t bytes_ = 0;
    std::list<Entry> order_;  // most recently used first
    std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
    std::uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace pywebd
