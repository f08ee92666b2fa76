#pragma once

#include <ctime>
#include <string>
#include <string_view>

namespace pywebd {

// The fields every response starts with, "Server: …\r\nDate: …\r\n", rebuilt at most
// once a second, so the Date header costs nothing per request.
class DateCache {
public:
    explicit DateCache(std::string_view server_name) : server_(server_name) { refresh(std::time(nullptr)); }

    void refresh(std::time_t now);
    std::string_view common_fields() const { return fields_; }
    std::time_t now() const { return second_; }

private:
    std::string server_;
    std::string fields_;
    std::time_t second_ = -1;
};

}  // namespace pywebd
