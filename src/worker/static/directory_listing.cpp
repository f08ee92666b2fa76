#include "static/directory_listing.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "static/uri_path.hpp"

namespace pywebd {
namespace {

struct Entry {
    std::string name;
    bool directory = false;
    long long size = -1;  // -1: not shown (directories, symlinks)
    std::time_t mtime = 0;
};

std::vector<Entry> read_entries(int dir_fd, std::size_t max_entries, bool& truncated) {
    std::vector<Entry> entries;
    const int own = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* dir = own >= 0 ? ::fdopendir(own) : nullptr;
    if (dir == nullptr) {
        if (own >= 0) ::close(own);
        truncated = false;
        return entries;
    }
    while (const dirent* d = ::readdir(dir)) {
        if (d->d_name[0] == '.') continue;  // ".", "..", and every dotfile
        if (entries.size() == max_entries) {
            truncated = true;
            break;
        }
        Entry entry{d->d_name};
        struct stat st {};
        // lstat: a symlink is shown as a name only, never with its target's details.
        if (::fstatat(::dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            entry.directory = S_ISDIR(st.st_mode);
            if (S_ISREG(st.st_mode)) entry.size = static_cast<long long>(st.st_size);
            entry.mtime = st.st_mtim.tv_sec;
        }
        entries.push_back(std::move(entry));
    }
    ::closedir(dir);
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return entries;
}

}  // namespace

void append_html_escaped(std::string& out, std::string_view text) {
    for (const char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out.push_back(c);
        }
    }
}

bool render_directory_listing(int dir_fd, std::string_view url_path, std::string& out, std::size_t max_entries) {
    bool truncated = false;
    struct stat st {};
    if (::fstat(dir_fd, &st) != 0 || !S_ISDIR(st.st_mode)) return false;
    const std::vector<Entry> entries = read_entries(dir_fd, max_entries, truncated);
    out.clear();
    out += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ";
    append_html_escaped(out, url_path);
    out += "</title></head>\n<body><h1>Index of ";
    append_html_escaped(out, url_path);
    out += "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n";
    if (url_path != "/") out += "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n";
    for (const Entry& e : entries) {
        out += "<tr><td><a href=\"";
        append_percent_encoded(e.name, out);  // names hold no '/'
        if (e.directory) out += '/';
        out += "\">";
        append_html_escaped(out, e.name);
        if (e.directory) out += '/';
        out += "</a></td><td>";
        out += e.size >= 0 ? fmt::format("{}", e.size) : std::string("-");
        std::tm tm{};
        ::gmtime_r(&e.mtime, &tm);
        out += fmt::format("</td><td>{:04}-{:02}-{:02} {:02}:{:02}</td></tr>\n", tm.tm_year + 1900, tm.tm_mon + 1,
                           tm.tm_mday, tm.tm_hour, tm.tm_min);
    }
    out += "</table>\n";
    if (truncated) out += fmt::format("<p>Only the first {} entries are listed.</p>\n", max_entries);
    out += "</body></html>\n";
    return true;
}

}  // namespace pywebd
