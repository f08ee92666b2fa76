#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include "http/field_block.hpp"

namespace pywebd {

// The fields every response starts with, Server and Date, rebuilt at most once a
// second, so the Date header costs nothing per request.
class DateCache {
public:
    explicit DateCache(std::string_view server_name) : server_(server_name) { refresh(std::time(nullptr)); }

    void refresh(std::time_t now);
    const http::FieldBlock& fields() const { return fields_; }
    std::time_t now() const { return second_; }

private:
    std::string server_;
    http::FieldBlock fields_;
    std::time_t second_ = -1;
};

}  // namespace pywebd
