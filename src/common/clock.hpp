#pragma once

#include <time.h>

#include <cstdint>

namespace pywebd {

// CLOCK_MONOTONIC: deadlines and timeouts never jump with the wall clock.
inline std::int64_t monotonic_us() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

inline std::int64_t monotonic_ms() { return monotonic_us() / 1000; }

}  // namespace pywebd
