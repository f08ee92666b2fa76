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

// One version of a file: any rewrite changes it (the ctime too, so bytes rewritten in
// place with the same size and a reset mtime are a new version). What the worker's
// memos of a file's derived data (content tags, compressed variants) are keyed by.
struct FileVersion {
    std::uint64_t device = 0, inode = 0, size = 0;
    std::int64_t mtime = 0, mtime_nsec = 0, ctime = 0, ctime_nsec = 0;

    static FileVersion from(const struct stat& st) {
        return {static_cast<std::uint64_t>(st.st_dev),
                static_cast<std::uint64_t>(st.st_ino),
                static_cast<std::uint64_t>(st.st_size),
                st.st_mtim.tv_sec,
                st.st_mtim.tv_nsec,
                st.st_ctim.tv_sec,
                st.st_ctim.tv_nsec};
    }
    bool operator==(const FileVersion&) const = default;
};

struct FileVersionHash {
    std::size_t operator()(const FileVersion& v) const noexcept {
        std::size_t h = v.inode * 0x9E3779B97F4A7C15ull;
        for (const std::uint64_t part :
             {v.device, v.size, static_cast<std::uint64_t>(v.mtime), static_cast<std::uint64_t>(v.mtime_nsec),
              static_cast<std::uint64_t>(v.ctime), static_cast<std::uint64_t>(v.ctime_nsec)})
            h = (h ^ part) * 0x100000001B3ull;
        return h;
    }
};

// A strong entity tag built from the file's identity: inode, size and mtime to the
// nanosecond, so any change a stat can see changes the tag.
struct ETag {
    char text[80];
    std::size_t length = 0;
    bool weak = false;                                        // W/"…": never matches a strong comparison
    std::string_view view() const { return {text, length}; }  // with quotes (and W/)
    std::string_view opaque() const {                         // between them
        const std::size_t at = weak ? 3 : 1;
        return {text + at, length - at - 1};
    }
};
ETag make_etag(const FileFacts& file);

}  // namespace pywebd
