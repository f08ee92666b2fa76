#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pywebd {

enum class PathError : std::uint8_t {
    None,
    BadEscape,    // '%' not followed by two hex digits
    ControlByte,  // NUL or another control character once decoded
    Backslash,    // never a separator here, and never a legitimate name on the web
    BadUtf8,      // invalid or overlong UTF-8 (the "%c0%ae" trick)
    AboveRoot,    // more ".." than segments
};

// A request path as it will be looked up: decoded, dot segments removed (RFC 3986
// §5.2.4), empty segments merged, always starting with '/'. `trailing_slash` records
// whether the client named a directory ("/docs/").
struct NormalPath {
    std::string path;
    bool trailing_slash = false;
    bool has_dot_segment = false;  // some segment starts with '.' (a dotfile or dot directory)

    // The path relative to the root, for openat2: "docs/a.html", or "." for the root.
    std::string_view relative() const { return path.size() > 1 ? std::string_view(path).substr(1) : "."; }
};

// Decodes and normalises `raw` (which starts with '/'), reusing `out`'s storage.
PathError normalize_path(std::string_view raw, NormalPath& out);

// Appends `text` with every byte but RFC 3986 unreserved characters and '/' written as
// %HH: a decoded path (or a file name) made safe for a URI reference or a header.
void append_percent_encoded(std::string_view text, std::string& out);

}  // namespace pywebd
