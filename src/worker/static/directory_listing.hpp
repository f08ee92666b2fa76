#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pywebd {

// An HTML index of the directory `dir_fd` (a descriptor it may read) as served at
// `url_path` ("/docs/"): entries sorted by name, names HTML-escaped in the text and
// percent-encoded in links, sizes and modification dates, subdirectories with a
// trailing '/'. Dotfiles are never listed. At most `max_entries` are listed.
// Returns false if the directory cannot be read.
bool render_directory_listing(int dir_fd, std::string_view url_path, std::string& out, std::size_t max_entries = 10000);

// HTML text escaping (& < > " ').
void append_html_escaped(std::string& out, std::string_view text);

}  // namespace pywebd
