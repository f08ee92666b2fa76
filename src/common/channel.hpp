#pragma once

#include <cstdint>
#include <optional>

#include "unique_fd.hpp"

namespace pywebd {

// Messages on the SOCK_SEQPACKET pair between the master and one worker.
enum class ChannelMessage : std::uint8_t {
    WorkerReady = 1,  // worker → master: listeners registered, accepting
    AccessLog = 2,    // master → worker: write the access log here from now on (fd attached, or none: off)
    ErrorLog = 3,     // master → worker: the reopened error log (fd attached)
};

struct Channel {
    UniqueFd master_end;
    UniqueFd worker_end;
    int error = 0;  // errno of socketpair when the ends are invalid (EMFILE …)
};

Channel open_channel();

// Sends one message, with `fd` attached when it is >= 0. False if the peer is gone.
bool send_message(int socket, ChannelMessage message, int fd = -1);

struct Received {
    ChannelMessage message;
    UniqueFd fd;  // the attached descriptor, if any
};
// Reads one message. nullopt on EOF, error or EAGAIN; `closed` tells EOF/error apart.
std::optional<Received> receive_message(int socket, bool& closed);

}  // namespace pywebd
