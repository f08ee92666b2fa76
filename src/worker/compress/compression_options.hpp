#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/content_coding.hpp"

namespace pywebd {

// A site's `compression`: what is compressed on the fly, and into which codings.
struct CompressionOptions {
    bool enabled = false;
    std::array<bool, 3> codings{};   // by http::Coding
    std::vector<std::string> types;  // lower case, without parameters; "text/*" for a whole type
    std::uint64_t min_size = 256;

    bool allows(http::Coding coding) const { return enabled && codings[static_cast<std::size_t>(coding)]; }
    // Whether a file of this Content-Type (parameters ignored) and size is compressed.
    bool applies_to(std::string_view content_type, std::uint64_t size) const;
};

}  // namespace pywebd
