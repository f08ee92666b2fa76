#include "http/date_cache.hpp"

#include "http/http_date.hpp"

namespace pywebd {

void DateCache::refresh(std::time_t now) {
    if (now == second_) return;
    second_ = now;
    char date[http::kHttpDateLength];
    fields_.clear();
    fields_.append("Server: ").append(server_).append("\r\nDate: ");
    fields_.append(date, http::format_http_date(now, date)).append("\r\n");
}

}  // namespace pywebd
