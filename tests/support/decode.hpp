#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pywebd::test {

// A body decoded from its Content-Encoding (br, zstd, gzip; empty or "identity": as
// is) with the libraries' own decoders; nullopt if it is not a complete, valid stream.
std::optional<std::string> decode(std::string_view coding, std::string_view bytes);

}  // namespace pywebd::test
