#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "metric_counters.hpp"
#include "unique_fd.hpp"

namespace pywebd {

// The shared memory the master maps before its first fork: its own counters, then one
// cache-line aligned slot per worker process alive at once. A memfd, so that a master
// re-executing itself (an in-place upgrade) can map the same counters again.
// Which slots are taken is the master's private knowledge; workers only write their
// own slot and read the whole segment.
class MetricsSegment {
public:
    // Workers of the current, pending and draining generations together. Beyond that a
    // worker is given no slot (acquire() returns kSlots) and counts for itself alone:
    // a slot shared by two writers could go backwards.
    static constexpr std::size_t kSlots = 4096;

    // Creates and maps a zeroed segment; nullopt and `error` set on failure.
    static std::optional<MetricsSegment> create(std::string& error);
    // Maps an existing segment (an fd carried across exec); nullopt if it is not one.
    static std::optional<MetricsSegment> adopt(UniqueFd fd, std::string& error);

    MetricsSegment(MetricsSegment&& other) noexcept;
    MetricsSegment& operator=(MetricsSegment&&) = delete;
    MetricsSegment(const MetricsSegment&) = delete;
    ~MetricsSegment();

    MasterCounters& master() const { return layout_->master; }
    WorkerCounters& slot(std::size_t index) const { return layout_->slots[index]; }
    // Slots any worker has used (the ones worth summing).
    std::size_t slots_used() const { return layout_->master.slots_used.get(); }
    int fd() const { return fd_.get(); }

    // The master's bookkeeping: the lowest free slot for a new worker (its counters go
    // on from where the last worker there left them; kSlots when none is free), and a
    // dead worker's slot back.
    std::size_t acquire();
    void release(std::size_t index);
    void mark_taken(std::size_t index);  // an adopted worker's slot (after an upgrade)

private:
    struct Layout {
        MasterCounters master;
        WorkerCounters slots[kSlots];
    };
    MetricsSegment(UniqueFd fd, Layout* layout) : fd_(std::move(fd)), layout_(layout), taken_(kSlots, false) {}

    UniqueFd fd_;
    Layout* layout_;
    std::vector<bool> taken_;
};

}  // namespace pywebd
