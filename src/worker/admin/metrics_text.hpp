#pragma once

#include <cstdint>
#include <string>

#include "metrics_segment.hpp"

namespace pywebd {

// The versions build_info reports.
struct BuildInfo {
    std::string version;
    std::string openssl;
    std::string nghttp2;
};
BuildInfo build_info();

// Every series in the Prometheus text exposition format 0.0.4: the workers' slots
// summed (counters only grow: a respawned worker carries its slot on), the master's
// own, and build_info.
std::string render_metrics(const MetricsSegment& segment, const BuildInfo& build);

// What /healthz answers: 200 "ok" while the current generation serves with a ready
// worker; 503 with the reason otherwise.
struct Health {
    std::uint16_t status;
    const char* reason;
};
Health health_of(const MasterCounters& master);

}  // namespace pywebd
