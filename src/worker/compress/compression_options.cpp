#include "compress/compression_options.hpp"

#include <algorithm>

#include "strings.hpp"

namespace pywebd {

bool CompressionOptions::applies_to(std::string_view content_type, std::uint64_t size) const {
    if (!enabled || size < min_size) return false;
    const std::string_view type = trim_ows(content_type.substr(0, content_type.find(';')));
    const std::string_view major = type.substr(0, type.find('/') + 1);  // "text/"
    return std::any_of(types.begin(), types.end(), [&](const std::string& pattern) {
        if (pattern.ends_with("/*")) return major.size() > 1 && iequals(major, pattern.substr(0, pattern.size() - 1));
        return iequals(type, pattern);
    });
}

}  // namespace pywebd
