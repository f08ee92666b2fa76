#pragma once

// A connection's deadlines: how long the worker waits for a client before it gives up
// (a head, the next request, progress while sending, the lingering close).

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

namespace pywebd {

enum class TimerKind : std::uint8_t { Header, KeepAlive, Send, Linger };
inline constexpr std::size_t kTimerKinds = 4;

// Embedded in whatever a timer belongs to (a connection), so arming never allocates.
struct TimerNode {
    TimerNode* prev = nullptr;
    TimerNode* next = nullptr;
    std::int64_t deadline_ms = 0;
    TimerKind kind = TimerKind::Header;
    bool armed = false;
};

// One FIFO list per kind. Every timer of a kind has the same duration, so appending at
// the tail keeps each list sorted by deadline: arm, disarm and expiry are all O(1).
// `now` is always a parameter, so tests can drive time by hand.
class TimerLists {
public:
    explicit TimerLists(const std::array<std::chrono::milliseconds, kTimerKinds>& durations) : durations_(durations) {}
    std::chrono::milliseconds duration(TimerKind kind) const { return durations_[index(kind)]; }

    void arm(TimerNode& node, TimerKind kind, std::int64_t now_ms) {
        disarm(node);
        node.kind = kind;
        node.deadline_ms = now_ms + durations_[index(kind)].count();
        node.armed = true;
        List& list = lists_[index(kind)];
        node.prev = list.tail;
        node.next = nullptr;
        (list.tail ? list.tail->next : list.head) = &node;
        list.tail = &node;
    }

    void disarm(TimerNode& node) {
        if (!node.armed) return;
        List& list = lists_[index(node.kind)];
        (node.prev ? node.prev->next : list.head) = node.next;
        (node.next ? node.next->prev : list.tail) = node.prev;
        node.prev = node.next = nullptr;
        node.armed = false;
    }

    // The earliest deadline of all lists, if any timer is armed.
    std::optional<std::int64_t> next_deadline() const {
        std::optional<std::int64_t> earliest;
        for (const List& list : lists_)
            if (list.head && (!earliest || list.head->deadline_ms < *earliest)) earliest = list.head->deadline_ms;
        return earliest;
    }

    // Removes and returns one timer whose deadline has passed, or nullptr.
    TimerNode* pop_expired(std::int64_t now_ms) {
        for (List& list : lists_) {
            if (list.head && list.head->deadline_ms <= now_ms) {
                TimerNode* node = list.head;
                disarm(*node);
                return node;
            }
        }
        return nullptr;
    }

private:
    struct List {
        TimerNode* head = nullptr;
        TimerNode* tail = nullptr;
    };
    static std::size_t index(TimerKind kind) { return static_cast<std::size_t>(kind); }

    std::array<std::chrono::milliseconds, kTimerKinds> durations_;
    std::array<List, kTimerKinds> lists_{};
};

}  // namespace pywebd
