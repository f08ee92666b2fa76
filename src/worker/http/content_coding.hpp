#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "http/request.hpp"

namespace pywebd::http {

struct CodingChoice {
    std::string_view suffix;  // ".br", ".zst", ".gz": the precompressed file beside the original
    std::string_view token;   // for Content-Encoding
};

// The precompressed codings a client accepts, best first (RFC 9110 §12.5.3): q-values
// decide; on a tie brotli, then zstd, then gzip (the smaller result first); "*" stands
// for codings not named; q=0 refuses. `count` is how many of `order` apply.
struct CodingPreference {
    std::array<CodingChoice, 3> order{};
    std::size_t count = 0;
};

CodingPreference negotiate_codings(const Request& request);

}  // namespace pywebd::http
