#pragma once

// The counters pywebd exports on /metrics, as they sit in the shared segment
// (metrics_segment.hpp): a master part, written by the master alone, and one slot per
// worker process, written by that worker alone. Whoever serves /metrics sums them.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace pywebd {

// A counter (or gauge) with a single writer: its own process. A relaxed load and store
// need no locked instruction on the request path, and a reader in another process
// sees each store whole.
class Counter {
public:
    void add(std::uint64_t n = 1) {
        value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void set(std::uint64_t n) { value_.store(n, std::memory_order_relaxed); }
    std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

enum class MetricProtocol : std::uint8_t { Http1, Http2 };
inline constexpr std::size_t kMetricProtocols = 2;
inline constexpr std::size_t kStatusClasses = 5;  // 1xx … 5xx

// Upper bounds of the request-duration buckets, in microseconds: 50 µs to 10 s.
inline constexpr std::array<std::uint64_t, 17> kDurationBucketsUs = {
    50,     100,     250,     500,     1'000,     2'500,     5'000,     10'000,    25'000,
    50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};

// One worker process's counters. A worker respawned into the slot carries them on, so
// sums never go backwards; the gauges are zeroed by the master when a slot is freed.
struct alignas(64) WorkerCounters {
    Counter requests[kMetricProtocols][kStatusClasses];
    Counter response_bytes[kMetricProtocols];         // body bytes sent
    Counter duration[kDurationBucketsUs.size() + 1];  // requests per bucket (not cumulative); the last: above 10 s
    Counter duration_sum_us;
    Counter connections_accepted;
    Counter connections_active;  // gauge
    Counter connections_idle;    // gauge: waiting for a next request (sampled each second)
    Counter tls_full;
    Counter tls_resumed;
    Counter tls_failed;
    Counter h2_streams;
    Counter h2_goaways;  // sent
    Counter file_cache_hits;
    Counter file_cache_misses;
    Counter compression_cache_hits;
    Counter compression_cache_misses;

    // One response ended (however it ended): its status, body bytes and time taken
    // from its request's head to its last byte.
    void record(MetricProtocol protocol, std::uint16_t status, std::uint64_t body_bytes, std::uint64_t duration_us) {
        const std::size_t p = static_cast<std::size_t>(protocol);
        const std::size_t status_class = status >= 100 && status < 600 ? status / 100 - 1 : kStatusClasses - 1;
        requests[p][status_class].add();
        response_bytes[p].add(body_bytes);
        std::size_t bucket = 0;
        while (bucket < kDurationBucketsUs.size() && duration_us > kDurationBucketsUs[bucket]) ++bucket;
        duration[bucket].add();
        duration_sum_us.add(duration_us);
    }
};

// Why the master replaced a worker it had not asked to stop.
enum class RestartCause : std::uint8_t { Crashed, Killed, Exited, FailedStart };
inline constexpr std::size_t kRestartCauses = 4;
inline constexpr std::array<const char*, kRestartCauses> kRestartCauseNames = {"crashed", "killed", "exited",
                                                                               "failed_start"};

// What /healthz says: 200 only while Serving with a ready worker in the current generation.
enum class HealthState : std::uint64_t { Starting, Serving, Stopping };

// The master's part, written by the master alone.
struct alignas(64) MasterCounters {
    Counter health;  // a HealthState
    Counter generation;
    Counter workers_configured;
    Counter workers_ready;  // of the current generation
    Counter restarts[kRestartCauses];
    Counter reloads_ok;
    Counter reloads_failed;
    Counter config_loaded_unix_ms;  // when the serving configuration was read
    Counter config_load_us;         // how long reading and checking it took
    Counter started_unix_ms;
    Counter slots_used;  // worker slots [0, slots_used) have been used
};

}  // namespace pywebd
