#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace pywebd {

// EAGAIN is a normal outcome here, not a failure; errno is captured once.
enum class Io : std::uint8_t { Done, WouldBlock, PeerClosed, Failed };
struct IoResult {
    Io status;
    std::size_t bytes;
    int error;
};

IoResult read_some(int fd, std::span<char> into) noexcept;
// sendmsg with MSG_NOSIGNAL, plus MSG_MORE when more of the response follows.
IoResult send_some(int fd, std::span<const iovec> iov, bool more) noexcept;
// sendfile from `file` at `offset`; a return of 0 bytes means the file ended early.
IoResult send_file(int fd, int file, std::uint64_t offset, std::size_t count) noexcept;

}  // namespace pywebd
