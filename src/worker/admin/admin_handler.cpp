#include "admin/admin_handler.hpp"

#include <memory>

namespace pywebd {

AdminHandler::AdminHandler(const MetricsSegment& metrics, const DateCache& date)
    : metrics_(metrics), date_(date), build_(build_info()) {}

void AdminHandler::answer(const http::Request& request, Response& out) const {
    const bool head_only = request.method == http::Method::Head;
    if (request.method != http::Method::Get && !head_only) {
        text(405, "text/plain; charset=utf-8", "only GET and HEAD\n", false, out);
        out.fields.add("Allow", "GET, HEAD");
        return;
    }
    if (request.path == "/metrics")
        return text(200, "text/plain; version=0.0.4; charset=utf-8", render_metrics(metrics_, build_), head_only, out);
    if (request.path == "/healthz") {
        const Health health = health_of(metrics_.master());
        return text(health.status, "text/plain; charset=utf-8", std::string(health.reason) + "\n", head_only, out);
    }
    text(404, "text/plain; charset=utf-8", "not found: the admin listener serves /metrics and /healthz\n", head_only,
         out);
}

// The body is made per request and held by the response until sent.
void AdminHandler::text(std::uint16_t status, std::string_view type, std::string body, bool head_only,
                        Response& out) const {
    out.status = status;
    out.shared.push_back(&date_.fields());
    out.fields.add("Content-Type", type);
    out.fields.add("Content-Length", body.size());
    out.fields.add("Cache-Control", "no-store");
    if (head_only) return;
    auto held = std::make_shared<const std::string>(std::move(body));
    out.segments.push_back({held->data(), 0, held->size()});
    out.holds_body = std::move(held);
}

}  // namespace pywebd
