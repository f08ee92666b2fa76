#pragma once

#include "strings.hpp"

namespace pywebd::http {

template <typename Each>
void for_each_element(const RequestHead& head, std::string_view name, Each&& each) {
    for (const Header& field : head.headers) {
        if (!iequals(field.name, name)) continue;
        for_each_list_element(field.value, [&](std::string_view element) {
            if (!element.empty()) each(element);
        });
    }
}

}  // namespace pywebd::http
