#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string_view>

namespace pywebd::test {

// Places bytes flush against an inaccessible page, so reading one byte past them
// crashes the test instead of passing silently (picohttpparser's trick).
class GuardedBuffer {
public:
    explicit GuardedBuffer(std::string_view bytes) {
        const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        pages_ = (bytes.size() + page - 1) / page + 1;
        size_ = pages_ * page;
        void* map = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED) throw std::runtime_error("mmap");
        base_ = static_cast<char*>(map);
        ::mprotect(base_ + size_ - page, page, PROT_NONE);
        data_ = base_ + size_ - page - bytes.size();
        std::memcpy(data_, bytes.data(), bytes.size());
        length_ = bytes.size();
    }
    ~GuardedBuffer() { ::munmap(base_, size_); }
    GuardedBuffer(const GuardedBuffer&) = delete;
    GuardedBuffer& operator=(const GuardedBuffer&) = delete;

    std::string_view view() const { return {data_, length_}; }

private:
    char* base_ = nullptr;
    char* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t pages_ = 0;
    std::size_t length_ = 0;
};

}  // namespace pywebd::test
