#include "static/file_cache.hpp"

namespace pywebd {

FileCache::FileCache(std::size_t max_entries, std::chrono::milliseconds valid)
    : max_entries_(max_entries), valid_ms_(valid.count()) {}

std::shared_ptr<const CachedFile> FileCache::find(const std::string& key, std::int64_t now_ms) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    if (now_ms - it->second.file->checked_ms >= valid_ms_) {
        entries_.erase(it);  // stale: the caller opens the file again
        return nullptr;
    }
    return it->second.file;
}

void FileCache::insert(const std::string& key, std::shared_ptr<const CachedFile> file) {
    if (!enabled()) return;
    const std::uint64_t sequence = next_sequence_++;
    entries_[key] = Slot{std::move(file), sequence};
    order_.emplace_back(key, sequence);
    // Evict the oldest entries; order records of entries replaced since are skipped.
    while (entries_.size() > max_entries_) {
        const auto& [old_key, old_sequence] = order_.front();
        const auto it = entries_.find(old_key);
        if (it != entries_.end() && it->second.sequence == old_sequence) entries_.erase(it);
        order_.pop_front();
    }
    // Replaced entries leave stale order records behind; drop them now and then.
    if (order_.size() > 2 * max_entries_ + 16) {
        std::erase_if(order_, [&](const auto& record) {
            const auto it = entries_.find(record.first);
            return it == entries_.end() || it->second.sequence != record.second;
        });
    }
}

}  // namespace pywebd
