#include <openssl/err.h>

#include "openssl_ptr.hpp"

namespace pywebd {

std::string openssl_errors() {
    std::string out;
    while (const unsigned long code = ERR_get_error()) {
        char text[256];
        ERR_error_string_n(code, text, sizeof text);
        if (!out.empty()) out += "; ";
        // "error:0A000086:SSL routines::certificate verify failed": keep the reason.
        const std::string_view full(text);
        const auto colon = full.rfind(':');
        out += colon == std::string_view::npos ? full : full.substr(colon + 1);
    }
    return out.empty() ? std::string("unknown error") : out;
}

}  // namespace pywebd
