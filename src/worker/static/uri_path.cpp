#include "static/uri_path.hpp"

namespace pywebd {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 3629 well-formed UTF-8: shortest form, no surrogates, at most U+10FFFF.
bool valid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        const unsigned char c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        int extra;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            extra = 1;
        else if (c == 0xE0) {
            extra = 2;
            lo = 0xA0;
        } else if (c == 0xED) {
            extra = 2;
            hi = 0x9F;
        } else if (c >= 0xE1 && c <= 0xEF)
            extra = 2;
        else if (c == 0xF0) {
            extra = 3;
            lo = 0x90;
        } else if (c == 0xF4) {
            extra = 3;
            hi = 0x8F;
        } else if (c >= 0xF1 && c <= 0xF3)
            extra = 3;
        else
            return false;  // 0x80-0xC1 (continuation or overlong lead), 0xF5-0xFF
        if (end - p <= extra) return false;
        if (p[1] < lo || p[1] > hi) return false;
        for (int i = 2; i <= extra; ++i)
            if (p[i] < 0x80 || p[i] > 0xBF) return false;
        p += extra + 1;
    }
    return true;
}

PathError percent_decode(std::string_view raw, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '%') {
            if (i + 2 >= raw.size()) return PathError::BadEscape;
            const int hi = hex_value(raw[i + 1]);
            const int lo = hex_value(raw[i + 2]);
            if (hi < 0 || lo < 0) return PathError::BadEscape;
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        }
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7F) return PathError::ControlByte;
        if (c == '\\') return PathError::Backslash;
        out.push_back(c);
    }
    return valid_utf8(out) ? PathError::None : PathError::BadUtf8;
}

}  // namespace

void append_percent_encoded(std::string_view text, std::string& out) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                           c == '.' || c == '_' || c == '~' || c == '/';
        if (plain) {
            out.push_back(c);
        } else {
            const char escaped[3] = {'%', kHex[byte >> 4], kHex[byte & 15]};
            out.append(escaped, 3);
        }
    }
}

PathError normalize_path(std::string_view raw, NormalPath& out) {
    std::string& path = out.path;
    if (const PathError e = percent_decode(raw, path); e != PathError::None) return e;
    // Remove dot segments in place: `write` trails `read`, and every kept segment is
    // written as "/name", so popping a segment is truncating to the previous '/'.
    std::size_t write = 0;
    std::size_t read = 0;
    out.trailing_slash = false;
    const std::size_t size = path.size();
    while (read < size) {
        while (read < size && path[read] == '/') ++read;
        const std::size_t start = read;
        while (read < size && path[read] != '/') ++read;
        const std::string_view segment(path.data() + start, read - start);
        out.trailing_slash = read == size && (segment.empty() || segment == "." || segment == "..");
        if (segment.empty() || segment == ".") continue;
        if (segment == "..") {
            if (write == 0) return PathError::AboveRoot;
            write = path.rfind('/', write - 1);
            continue;
        }
        out.trailing_slash = false;
        path[write++] = '/';
        for (std::size_t i = start; i < read; ++i) path[write++] = path[i];
    }
    if (write == 0) {
        path[0] = '/';  // decoding keeps the leading '/', so there is room
        write = 1;
        out.trailing_slash = true;
    }
    path.resize(write);
    out.has_dot_segment = path.find("/.") != std::string::npos;
    return PathError::None;
}

}  // namespace pywebd
