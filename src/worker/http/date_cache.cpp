#include "http/date_cache.hpp"

namespace pywebd {

void DateCache::refresh(std::time_t now) {
    if (now == second_) return;
    second_ = now;
    fields_.clear();
    fields_.add("Server", server_);
    fields_.add_date("Date", now);
}

}  // namespace pywebd
