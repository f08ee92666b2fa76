#include "decode.hpp"

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

#include <memory>

namespace pywebd::test {
namespace {

std::optional<std::string> gunzip(std::string_view bytes) {
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK) return std::nullopt;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    z.avail_in = static_cast<uInt>(bytes.size());
    std::string out;
    int rc = Z_OK;
    while (rc == Z_OK) {
        char chunk[65536];
        z.next_out = reinterpret_cast<Bytef*>(chunk);
        z.avail_out = sizeof chunk;
        rc = inflate(&z, Z_NO_FLUSH);
        out.append(chunk, sizeof chunk - z.avail_out);
    }
    const bool whole = rc == Z_STREAM_END && z.avail_in == 0;
    inflateEnd(&z);
    return whole ? std::optional(out) : std::nullopt;
}

std::optional<std::string> unbrotli(std::string_view bytes) {
    const std::unique_ptr<BrotliDecoderState, void (*)(BrotliDecoderState*)> state(
        BrotliDecoderCreateInstance(nullptr, nullptr, nullptr), BrotliDecoderDestroyInstance);
    std::size_t available_in = bytes.size();
    auto next_in = reinterpret_cast<const std::uint8_t*>(bytes.data());
    std::string out;
    for (;;) {
        std::uint8_t chunk[65536];
        std::size_t available_out = sizeof chunk;
        std::uint8_t* next_out = chunk;
        const BrotliDecoderResult rc =
            BrotliDecoderDecompressStream(state.get(), &available_in, &next_in, &available_out, &next_out, nullptr);
        out.append(reinterpret_cast<const char*>(chunk), sizeof chunk - available_out);
        if (rc == BROTLI_DECODER_RESULT_SUCCESS) return available_in == 0 ? std::optional(out) : std::nullopt;
        if (rc != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) return std::nullopt;
    }
}

std::optional<std::string> unzstd(std::string_view bytes) {
    const std::unique_ptr<ZSTD_DCtx, std::size_t (*)(ZSTD_DCtx*)> context(ZSTD_createDCtx(), ZSTD_freeDCtx);
    ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
    std::string out;
    std::size_t rc = 1;
    while (in.pos < in.size || rc != 0) {
        char chunk[65536];
        ZSTD_outBuffer buffer{chunk, sizeof chunk, 0};
        rc = ZSTD_decompressStream(context.get(), &buffer, &in);
        if (ZSTD_isError(rc)) return std::nullopt;
        out.append(chunk, buffer.pos);
        if (in.pos == in.size && buffer.pos == 0 && rc != 0) return std::nullopt;  // truncated
    }
    return out;
}

}  // namespace

std::optional<std::string> decode(std::string_view coding, std::string_view bytes) {
    if (coding.empty() || coding == "identity") return std::string(bytes);
    if (coding == "gzip") return gunzip(bytes);
    if (coding == "br") return unbrotli(bytes);
    if (coding == "zstd") return unzstd(bytes);
    return std::nullopt;
}

}  // namespace pywebd::test
