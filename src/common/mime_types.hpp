#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pywebd {

// Extension → complete Content-Type value ("text/html; charset=utf-8"), built once per
// configuration so a response only looks a string up.
class MimeTypes {
public:
    // Reads `file` (mime.types format) over a built-in table of common types; a missing
    // file leaves the built-in table. `charset` is appended to text-like types.
    static MimeTypes load(const std::filesystem::path& file, std::string_view charset);

    // For a file name or path: the type of its extension (case-insensitive), else
    // application/octet-stream.
    std::string_view lookup(std::string_view file_name) const;

    std::size_t size() const { return types_.size(); }
    bool loaded_file() const { return loaded_file_; }

private:
    void add(std::string_view extension, std::string_view type, std::string_view charset);

    std::unordered_map<std::string, std::string> types_;
    bool loaded_file_ = false;
};

}  // namespace pywebd
