#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/content_coding.hpp"

namespace pywebd {

// One compression stream in a content coding: gzip (zlib), br (libbrotli) or zstd
// (libzstd), at gzip 6, brotli 5 and zstd 3: each near its library's best ratio per CPU
// (a 64 KiB slice is about a millisecond of brotli), with windows kept small (brotli
// 2^18, zstd 2^19) so that a stream's state stays at 2.5 MiB or less.
class Encoder {
public:
    // Null if the library could not allocate its state. `size_hint`: the input's total size.
    static std::unique_ptr<Encoder> create(http::Coding coding, std::uint64_t size_hint);
    virtual ~Encoder() = default;

    // Compresses `input` and appends what it makes to `out`. With `last` the stream ends;
    // otherwise it is flushed, so everything given so far can be decoded from `out`
    // (a client sees the body as it is made). False on a library error.
    virtual bool encode(std::string_view input, bool last, std::string& out) = 0;
};

// `input` compressed whole; nullopt-like empty result with false on failure.
bool compress_whole(http::Coding coding, std::string_view input, std::string& out);

}  // namespace pywebd
