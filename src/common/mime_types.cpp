#include "mime_types.hpp"

#include <fstream>
#include <sstream>

#include "strings.hpp"

namespace pywebd {
namespace {

constexpr std::string_view kDefaultType = "application/octet-stream";

struct Builtin {
    std::string_view extension, type;
};
// Enough for a site to work where /etc/mime.types is missing.
constexpr Builtin kBuiltin[] = {
    {"html", "text/html"},        {"htm", "text/html"},
    {"css", "text/css"},          {"js", "text/javascript"},
    {"mjs", "text/javascript"},   {"json", "application/json"},
    {"txt", "text/plain"},        {"xml", "application/xml"},
    {"svg", "image/svg+xml"},     {"png", "image/png"},
    {"jpg", "image/jpeg"},        {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},         {"webp", "image/webp"},
    {"avif", "image/avif"},       {"ico", "image/vnd.microsoft.icon"},
    {"woff", "font/woff"},        {"woff2", "font/woff2"},
    {"wasm", "application/wasm"}, {"pdf", "application/pdf"},
    {"mp4", "video/mp4"},         {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},        {"zip", "application/zip"},
    {"gz", "application/gzip"},   {"tar", "application/x-tar"},
    {"md", "text/markdown"},      {"csv", "text/csv"},
};

// Types whose content is text in some charset, so a charset parameter applies.
bool is_textual(std::string_view type) {
    constexpr std::string_view kText[] = {"application/javascript",    "application/json",    "application/xml",
                                          "application/xhtml+xml",     "application/rss+xml", "application/atom+xml",
                                          "application/manifest+json", "image/svg+xml"};
    if (type.starts_with("text/")) return true;
    for (std::string_view t : kText)
        if (t == type) return true;
    return false;
}

}  // namespace

void MimeTypes::add(std::string_view extension, std::string_view type, std::string_view charset) {
    std::string value(type);
    if (!charset.empty() && is_textual(type)) value.append("; charset=").append(charset);
    types_[to_lower(extension)] = std::move(value);
}

MimeTypes MimeTypes::load(const std::filesystem::path& file, std::string_view charset) {
    MimeTypes table;
    for (const Builtin& b : kBuiltin) table.add(b.extension, b.type, charset);
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        table.loaded_file_ = true;
        if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        std::istringstream words(line);
        std::string type, extension;
        if (!(words >> type) || type.find('/') == std::string::npos) continue;
        while (words >> extension) table.add(extension, type, charset);
    }
    return table;
}

std::string_view MimeTypes::lookup(std::string_view file_name) const {
    const auto slash = file_name.rfind('/');
    if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
    const auto dot = file_name.rfind('.');
    if (dot == std::string_view::npos || dot + 1 == file_name.size()) return kDefaultType;
    char key[16];
    const std::string_view extension = file_name.substr(dot + 1);
    if (extension.size() > sizeof key) return kDefaultType;
    for (std::size_t i = 0; i < extension.size(); ++i) key[i] = ascii_lower(extension[i]);
    // Extensions fit std::string's small buffer: no allocation here.
    const auto it = types_.find(std::string(key, extension.size()));
    return it == types_.end() ? kDefaultType : std::string_view(it->second);
}

}  // namespace pywebd
