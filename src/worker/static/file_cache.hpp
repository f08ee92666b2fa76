#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/field_block.hpp"
#include "http/file_facts.hpp"
#include "unique_fd.hpp"

namespace pywebd {

// The fields of a file's variant compressed on the fly (one per coding), made from the
// file's own on first use: a weak ETag of its own (the bytes depend on the compressor),
// Content-Encoding, and no Accept-Ranges (ranges are served from the file itself).
struct VariantFields {
    ETag etag;
    http::FieldBlock validators;  // a 304's
    http::FieldBlock ok_fields;   // a 200's after Server and Date, without Content-Length and Expires
};

// A file as a response sends it: the open descriptor, the facts of that descriptor,
// the fields a 200 and a 304 carry (built once: the Last-Modified date, the ETag …),
// and, for a small file, its whole content, so the response is one write.
struct CachedFile {
    UniqueFd fd;
    FileFacts facts;
    ETag etag;
    std::string_view type;           // Content-Type (owned by the MIME table)
    std::string_view encoding;       // Content-Encoding of a precompressed sibling, or empty
    http::FieldBlock validators;     // Last-Modified, ETag, Vary and the operator's rule fields (a 304's)
    http::FieldBlock ok_fields;      // a 200's fields after Server and Date, without Expires
    long long expires_seconds = -1;  // an operator rule's Expires, added per response
    std::string body;                // the content, when the file is small enough
    bool in_memory = false;
    std::int64_t checked_ms = 0;  // when it was opened; trusted until checked_ms + valid
    FileVersion version;          // what its compressed variants are cached by
    bool compressible = false;    // compression applies (type, size; not a precompressed sibling)
    // Built lazily by the worker that owns the entry (a CachedFile never crosses threads).
    mutable std::array<std::unique_ptr<const VariantFields>, 3> variants;  // by http::Coding
};

// A worker's cache of resolved, open files, keyed by request path and accepted
// codings (so negative lookups of .br/.gz siblings are cached too). An entry is trusted
// for `valid` after it was opened, like nginx's open_file_cache_valid: a file changed
// or deleted on disk is seen within that window. Bounded by `max_entries`, evicting the
// oldest first. Responses hold entries by shared_ptr, so eviction never pulls a file
// from under a response being sent.
class FileCache {
public:
    FileCache(std::size_t max_entries, std::chrono::milliseconds valid);

    bool enabled() const { return max_entries_ > 0; }
    std::shared_ptr<const CachedFile> find(const std::string& key, std::int64_t now_ms);
    void insert(const std::string& key, std::shared_ptr<const CachedFile> file);

private:
    struct Slot {
        std::shared_ptr<const CachedFile> file;
        std::uint64_t sequence;
    };
    std::size_t max_entries_;
    std::int64_t valid_ms_;
    std::uint64_t next_sequence_ = 0;
    std::unordered_map<std::string, Slot> entries_;
    std::deque<std::pair<std::string, std::uint64_t>> order_;  // insertion order, for eviction
};

}  // namespace pywebd
