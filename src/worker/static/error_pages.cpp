#include "static/error_pages.hpp"

#include <fmt/format.h>

#include "http/status.hpp"

namespace pywebd {
namespace {

std::string page(std::uint16_t status, std::string_view detail = {}) {
    return fmt::format(
        "<!DOCTYPE html>\n<html><head><title>{0} {1}</title></head>\n"
        "<body><h1>{0} {1}</h1>{2}<hr><p>pywebd</p></body></html>\n",
        status, http::reason_phrase(status), detail);
}

}  // namespace

ErrorPages::ErrorPages()
    : fallback_(page(500)), plain_http_(page(400, "<p>The plain HTTP request was sent to an HTTPS port.</p>")) {
    for (const int status :
         {301, 302, 307, 308, 400, 403, 404, 405, 408, 412, 413, 414, 416, 421, 431, 500, 501, 503, 505})
        pages_.emplace(static_cast<std::uint16_t>(status), page(static_cast<std::uint16_t>(status)));
}

std::string_view ErrorPages::body(std::uint16_t status) const {
    const auto it = pages_.find(status);
    return it == pages_.end() ? std::string_view(fallback_) : std::string_view(it->second);
}

}  // namespace pywebd
