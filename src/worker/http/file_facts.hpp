#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <ctime>
#include <string_view>

namespace pywebd {

// What the serving decision needs to know about an open file, from one fstat of the
// very descriptor that will be sent, so the validators describe the bytes sent.
struct FileFacts {
    std::uint64_t size = 0;
    std::time_t mtime = 0;
    long mtime_nsec = 0;
    std::uint64_t inode = 0;

    static FileFacts from(const struct stat& st) {
        return {static_cast<std::uint64_t>(st.st_size), st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                static_cast<std::uint64_t>(st.st_ino)};
    }
};

// A strong entity tag built from the file's identity: inode, size and mtime to the
// nanosecond, so any change a stat can see changes the tag.
struct ETag {
    char text[72];
    std::size_t length = 0;
    std::string_view view() const { return {text, length}; }            // with quotes
    std::string_view opaque() const { return {text + 1, length - 2}; }  // between them
};
ETag make_etag(const FileFacts& file);

}  // namespace pywebd
