#pragma once

#include <string>

#include "admin/metrics_text.hpp"
#include "http/date_cache.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "metrics_segment.hpp"

namespace pywebd {

// What the admin listener answers: GET or HEAD of /metrics (Prometheus text 0.0.4) and
// /healthz; 404 for any other path, 405 for any other method. Served by every worker,
// from the shared segment, so any of them gives the same figures.
class AdminHandler {
public:
    AdminHandler(const MetricsSegment& metrics, const DateCache& date);

    void answer(const http::Request& request, Response& out) const;

private:
    void text(std::uint16_t status, std::string_view type, std::string body, bool head_only, Response& out) const;

    const MetricsSegment& metrics_;
    const DateCache& date_;
    BuildInfo build_;
};

}  // namespace pywebd
