#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "unique_fd.hpp"

namespace pywebd {

// Messages on the SOCK_SEQPACKET pair between the master and one worker.
enum class ChannelMessage : std::uint8_t {
    WorkerReady = 1,  // worker → master: listeners registered, accepting
    AccessLog = 2,    // master → worker: write the access log here from now on (fd attached, or none: off)
    ErrorLog = 3,     // master → worker: the reopened error log (fd attached)
    TicketKeys = 4,   // master → worker: the session ticket keys after a rotation (payload)
};

struct Channel {
    UniqueFd master_end;
    UniqueFd worker_end;
    int error = 0;  // errno of socketpair when the ends are invalid (EMFILE …)
};

Channel open_channel();

// The most a message carries besides its type (the ticket keys need 161 bytes).
constexpr std::size_t kMaxPayload = 256;

// Sends one message, with `fd` attached when it is >= 0 and `payload` after the type
// byte. False if the peer is gone (or the payload is too large).
bool send_message(int socket, ChannelMessage message, int fd = -1, std::span<const unsigned char> payload = {});

struct Received {
    ChannelMessage message;
    UniqueFd fd;  // the attached descriptor, if any
    std::array<unsigned char, kMaxPayload> payload_bytes{};
    std::size_t payload_size = 0;
    std::span<const unsigned char> payload() const { return {payload_bytes.data(), payload_size}; }
};
// Reads one message. nullopt on EOF, error or EAGAIN; `closed` tells EOF/error apart.
std::optional<Received> receive_message(int socket, bool& closed);

}  // namespace pywebd
