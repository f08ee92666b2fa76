#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>

namespace pywebd {

// A connection's frames that cost the server work but carry no request: counted per
// kind in one-second windows, so a flood of any one kind (PING, SETTINGS,
// WINDOW_UPDATE, PRIORITY, RST_STREAM — Rapid Reset —, DATA carrying nothing, or
// requests the server must reset: refused past the stream limit, or malformed) is
// recognised whatever the others do. WINDOW_UPDATE frames the server's DATA earned (by
// its bytes, not its frames) are not counted: a client with small windows acknowledges
// every 32 KiB it reads, per stream and per connection, thousands of times a second on
// a fast link.
class FrameRates {
public:
    enum Kind : std::uint8_t { Ping, Settings, WindowUpdate, Priority, RstStream, EmptyData, ResetByServer, kKinds };

    // Counts one frame; false once `kind` passed `limit` frames in the current second.
    bool allow(Kind kind, std::int64_t now_ms, std::uint32_t limit) {
        if (kind == WindowUpdate && earned_updates_ > 0) {
            --earned_updates_;
            return true;
        }
        if (now_ms - window_start_ms_ >= 1000) {
            window_start_ms_ = now_ms;
            counts_.fill(0);
        }
        return ++counts_[kind] <= limit;
    }

    // DATA went out: a client acknowledges what it reads, for the stream and for the
    // connection, every 32 KiB with nghttp2's default windows, every 4 KiB at most with
    // Go's; two updates are earned per 4 KiB of data, none by tiny frames (a client that opens its
    // window a byte at a time to get a frame per byte, CVE-2019-9511, earns nothing).
    void data_sent(std::size_t bytes) {
        unearned_bytes_ += bytes;
        earned_updates_ =
            std::min<std::uint64_t>(earned_updates_ + 2 * (unearned_bytes_ / kBytesPerCredit), kMaxEarned);
        unearned_bytes_ %= kBytesPerCredit;
    }

    static constexpr std::string_view name(Kind kind) {
        constexpr std::string_view kNames[] = {"PING",       "SETTINGS",   "WINDOW_UPDATE",  "PRIORITY",
                                               "RST_STREAM", "empty DATA", "reset by server"};
        return kNames[kind];
    }

    // The kind a received frame counts as, or kKinds when it does not count (a request's
    // HEADERS, DATA that carries bytes or ends the stream, CONTINUATION, GOAWAY …).
    static Kind kind_of(std::uint8_t type, std::uint8_t flags, std::uint32_t length) {
        switch (type) {
        case 0x0: return length == 0 && (flags & 0x1) == 0 ? EmptyData : kKinds;  // DATA
        case 0x2: return Priority;
        case 0x3: return RstStream;
        case 0x4: return Settings;
        case 0x6: return Ping;
        case 0x8: return WindowUpdate;
        default: return kKinds;
        }
    }

private:
    static constexpr std::size_t kBytesPerCredit = 4 * 1024;
    static constexpr std::uint64_t kMaxEarned = 4096;  // credit is for updates due soon, not a bank
    std::int64_t window_start_ms_ = INT64_MIN / 2;
    std::uint64_t earned_updates_ = 0;
    std::size_t unearned_bytes_ = 0;
    std::array<std::uint32_t, kKinds> counts_{};
};

// Finds the frame headers in a connection's incoming bytes, across reads, so that every
// frame is seen — those nghttp2 ignores without a callback too (DATA on a stream the
// server has reset, which a client may otherwise send without end).
class FrameScanner {
public:
    // Calls each(type, flags, length) for every frame header completed in `bytes`.
    template <typename Each>
    void scan(std::string_view bytes, Each&& each) {
        while (!bytes.empty()) {
            if (skip_ > 0) {
                const std::size_t n = std::min<std::size_t>(skip_, bytes.size());
                skip_ -= n;
                bytes.remove_prefix(n);
                continue;
            }
            header_[have_++] = static_cast<std::uint8_t>(bytes.front());
            bytes.remove_prefix(1);
            if (have_ < header_.size()) continue;
            have_ = 0;
            const std::uint32_t length =
                (std::uint32_t{header_[0]} << 16) | (std::uint32_t{header_[1]} << 8) | header_[2];
            skip_ = length;
            each(header_[3], header_[4], length);
        }
    }

private:
    std::uint64_t skip_ = 24;  // the client's connection preface comes first
    std::array<std::uint8_t, 9> header_{};
    std::size_t have_ = 0;
};

}  // namespace pywebd
