#pragma once

#include <cstdint>
#include <string_view>

namespace pywebd {

// How a response ended. Every response ends through its session's completion, which
// logs it with the bytes that actually went out; all but Complete are aborts.
enum class Ending : std::uint8_t {
    Complete,     // every byte sent
    PeerClosed,   // the client reset or closed the connection (ECONNRESET, EPIPE)
    SendFailed,   // another send error
    SendTimeout,  // no progress for timeouts.send
    FileShrank,   // the file got shorter than the length announced
    Shutdown,     // the worker stopped (drain deadline, fast stop)
};

// The stable token logged as reason=…
constexpr std::string_view token(Ending how) {
    switch (how) {
    case Ending::Complete: return "complete";
    case Ending::PeerClosed: return "peer_closed";
    case Ending::SendFailed: return "send_error";
    case Ending::SendTimeout: return "send_timeout";
    case Ending::FileShrank: return "file_shrank";
    case Ending::Shutdown: return "shutdown";
    }
    return "unknown";
}

}  // namespace pywebd
