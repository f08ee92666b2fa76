#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "http/request.hpp"

namespace pywebd::http {

// The content codings pywebd makes or serves precompressed, in its order of preference.
enum class Coding : std::uint8_t { Br, Zstd, Gzip };

struct CodingChoice {
    std::string_view suffix;  // ".br", ".zst", ".gz": the precompressed file beside the original
    Coding coding = Coding::Br;
};

// The precompressed codings a client accepts, best first (RFC 9110 §12.5.3): q-values
// decide; on a tie brotli, then zstd, then gzip (the smaller result first); "*" stands
// for codings not named; q=0 refuses; a coding weighted below an explicit "identity"
// is not used. `count` is how many of `order` apply.
struct CodingPreference {
    std::array<CodingChoice, 3> order{};
    std::size_t count = 0;
};

CodingPreference negotiate_codings(const Request& request);

// "br", "zstd" or "gzip", as Content-Encoding names it.
constexpr std::string_view coding_token(Coding coding) {
    switch (coding) {
    case Coding::Br: return "br";
    case Coding::Zstd: return "zstd";
    case Coding::Gzip: return "gzip";
    }
    return "";
}

}  // namespace pywebd::http
