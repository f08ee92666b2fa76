#include "compress/compression_cache.hpp"

namespace pywebd {

CompressionCache::Bytes CompressionCache::find(const FileVersion& file, http::Coding coding) {
    const auto it = index_.find(Key{file, coding});
    if (it == index_.end()) {
        ++misses_;
        return nullptr;
    }
    ++hits_;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->bytes;
}

void CompressionCache::insert(const FileVersion& file, http::Coding coding, Bytes bytes) {
    if (!bytes || bytes->size() > max_entry()) return;
    const Key key{file, coding};
    if (const auto it = index_.find(key); it != index_.end()) {  // made twice (two misses at once)
        bytes_ -= it->second->bytes->size();
        order_.erase(it->second);
        index_.erase(it);
    }
    while (!order_.empty() && bytes_ + bytes->size() > budget_) {
        bytes_ -= order_.back().bytes->size();
        index_.erase(order_.back().key);
        order_.pop_back();
    }
    bytes_ += bytes->size();
    order_.push_front(Entry{key, std::move(bytes)});
    index_.emplace(key, order_.begin());
}

bool CompressionCache::begin_making(const FileVersion& file, http::Coding coding) {
    return making_.insert(Key{file, coding}).second;
}

void CompressionCache::end_making(const FileVersion& file, http::Coding coding) { making_.erase(Key{file, coding}); }

bool CompressionCache::being_made(const FileVersion& file, http::Coding coding) const {
    return making_.contains(Key{file, coding});
}

void CompressionCache::too_large(const FileVersion& file, http::Coding coding) {
    const Key key{file, coding};
    if (!too_large_.insert(key).second) return;
    too_large_order_.push_back(key);
    if (too_large_order_.size() > kTooLargeKept) {
        too_large_.erase(too_large_order_.front());
        too_large_order_.pop_front();
    }
}

bool CompressionCache::known_too_large(const FileVersion& file, http::Coding coding) const {
    return too_large_.contains(Key{file, coding});
}

bool CompressionCache::reserve(std::size_t bytes) {
    if (making_bytes_ + bytes > budget_) return false;
    making_bytes_ += bytes;
    return true;
}

}  // namespace pywebd
