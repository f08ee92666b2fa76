#include "metrics_segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pywebd {
namespace {

void* map_segment(int fd, std::size_t size, std::string& error) {
    void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (address == MAP_FAILED) {
        error = std::string("metrics: mmap: ") + std::strerror(errno);
        return nullptr;
    }
    return address;
}

}  // namespace

std::optional<MetricsSegment> MetricsSegment::create(std::string& error) {
    UniqueFd fd(::memfd_create("pywebd-metrics", MFD_CLOEXEC));
    if (!fd || ::ftruncate(fd.get(), sizeof(Layout)) != 0) {
        error = std::string("metrics: memfd: ") + std::strerror(errno);
        return std::nullopt;
    }
    void* address = map_segment(fd.get(), sizeof(Layout), error);
    if (address == nullptr) return std::nullopt;
    // The pages of a fresh memfd read as zero, which is every counter's start.
    return MetricsSegment(std::move(fd), static_cast<Layout*>(address));
}

std::optional<MetricsSegment> MetricsSegment::adopt(UniqueFd fd, std::string& error) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || static_cast<std::size_t>(st.st_size) != sizeof(Layout)) {
        error = "metrics: the inherited segment is not one this version maps";
        return std::nullopt;
    }
    void* address = map_segment(fd.get(), sizeof(Layout), error);
    if (address == nullptr) return std::nullopt;
    ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC);  // it came across exec without
    return MetricsSegment(std::move(fd), static_cast<Layout*>(address));
}

MetricsSegment::MetricsSegment(MetricsSegment&& other) noexcept
    : fd_(std::move(other.fd_)), layout_(other.layout_), taken_(std::move(other.taken_)) {
    other.layout_ = nullptr;
}

MetricsSegment::~MetricsSegment() {
    if (layout_ != nullptr) ::munmap(layout_, sizeof(Layout));
}

std::size_t MetricsSegment::acquire() {
    std::size_t index = 0;
    while (index < kSlots && taken_[index]) ++index;
    if (index == kSlots) return kSlots;  // none free
    mark_taken(index);
    return index;
}

void MetricsSegment::mark_taken(std::size_t index) {
    if (index >= kSlots) return;
    taken_[index] = true;
    if (index + 1 > slots_used()) layout_->master.slots_used.set(index + 1);
}

void MetricsSegment::release(std::size_t index) {
    if (index >= kSlots) return;
    taken_[index] = false;
    WorkerCounters& counters = slot(index);
    counters.connections_active.set(0);  // its connections went with it
    counters.connections_idle.set(0);
}

}  // namespace pywebd
