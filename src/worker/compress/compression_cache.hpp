#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "http/content_coding.hpp"
#include "http/file_facts.hpp"

namespace pywebd {

// A worker's compressed variants of files, keyed by the file's version and the coding,
// so a hot file is compressed once whatever path or site reaches it, and a file changed
// on disk is a new key (its old variant ages out). Bounded by a byte budget, the least
// recently used dropped first; one variant may take at most an eighth of it, so a large
// file cannot flush everything else. Responses hold variants by shared_ptr: dropping one
// never pulls bytes from under a response being sent.
//
// It also keeps account of the variants being made (collected by streams while they are
// sent): one stream at a time per variant, and all of them together within the budget
// again, so neither a crowd asking for one file nor many large files at once make a
// worker hold more than that.
class CompressionCache {
public:
    explicit CompressionCache(std::size_t budget_bytes) : budget_(budget_bytes) {}

    using Bytes = std::shared_ptr<const std::string>;

    Bytes find(const FileVersion& file, http::Coding coding);
    void insert(const FileVersion& file, http::Coding coding, Bytes bytes);
    std::size_t max_entry() const { return budget_ / 8; }

    // Whether variants are collected while they are made at all (a budget of 0 keeps none).
    bool collects() const { return max_entry() > 0; }
    // Making a variant: false if another stream is making it already.
    bool begin_making(const FileVersion& file, http::Coding coding);
    void end_making(const FileVersion& file, http::Coding coding);
    bool being_made(const FileVersion& file, http::Coding coding) const;
    // A variant found too large to keep while it was made: not collected again (the
    // last kTooLargeKept remembered).
    void too_large(const FileVersion& file, http::Coding coding);
    bool known_too_large(const FileVersion& file, http::Coding coding) const;
    // Bytes collected so far by the streams making variants: false (nothing taken) past
    // the budget.
    bool reserve(std::size_t bytes);
    void release(std::size_t bytes) { making_bytes_ -= bytes; }

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

    std::size_t budget_;
    std::size_t bytes_ = 0;
    std::list<Entry> order_;  // most recently used first
    std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
    std::unordered_set<Key, KeyHash> making_;
    static constexpr std::size_t kTooLargeKept = 1024;
    std::unordered_set<Key, KeyHash> too_large_;
    std::deque<Key> too_large_order_;
    std::size_t making_bytes_ = 0;
    std::uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace pywebd
