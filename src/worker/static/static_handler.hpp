#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "compress/compression_cache.hpp"
#include "http/content_coding.hpp"
#include "http/date_cache.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "log.hpp"
#include "metric_counters.hpp"
#include "mime_types.hpp"
#include "static/error_pages.hpp"
#include "static/site.hpp"
#include "static/uri_path.hpp"

namespace pywebd {

// Turns one request for a site into a planned, protocol-free Response: resolves the
// target beneath the root, opens and stats the file once (or finds it in the site's
// FileCache), picks a precompressed sibling when the client accepts one, decides the
// status (decide()) and lists the fields. It owns no connection state and writes no
// protocol's syntax; the session renders and sends what it plans.
class StaticHandler {
public:
    StaticHandler(const MimeTypes& mime, const DateCache& date, const ErrorPages& pages, std::string boundary,
                  Logger& log, std::size_t compressed_cache_bytes = 32 << 20, WorkerCounters* counters = nullptr);

    void handle(Site& site, const http::Request& request, std::int64_t now_ms, Response& out);

    // An error response: the site's page for `status` if there is one and it can be
    // opened, else a small built-in HTML body (none when `head_only`). The caller may add
    // fields (Allow, Location …) to out.fields afterwards.
    void error(Site& site, std::uint16_t status, bool head_only, Response& out);
    // The built-in page alone (for the admin listener, which serves no site's files).
    void builtin_error(std::uint16_t status, bool head_only, Response& out) const;
    // A plain listener set to redirect: 308 to the same path and query over HTTPS on the
    // host the request named (400 if it named none: there is nowhere to send it).
    // ACME HTTP-01 challenges (/.well-known/acme-challenge/…) are served as usual, so a
    // first certificate can be issued over plain HTTP.
    void redirect_to_https(Site& site, const http::Request& request, std::uint16_t https_port, std::int64_t now_ms,
                           Response& out);
    // The 400 for a client that spoke plain HTTP to a TLS port.
    void plain_http_on_tls_port(Response& out) const;
    const CompressionCache& compressed() const { return compressed_; }
    // How much compressing a worker does per turn of its event loop, each unit a slice
    // (64 KiB of input, about a millisecond of brotli), whatever the number of clients:
    // small files compressed at once while answering, and steps of the streams that
    // compress while sending (a session asks take_step() before each; refused, it waits
    // for a later turn). Past the first, a small file is streamed instead.
    static constexpr std::size_t kCompressNowPerTurn = 2;
    static constexpr std::size_t kStreamStepsPerTurn = 8;
    // The worker calls this at each turn of its event loop.
    void new_turn() {
        compress_now_left_ = kCompressNowPerTurn;
        steps_left_ = kStreamStepsPerTurn;
    }
    bool take_step() { return steps_left_ > 0 && (--steps_left_, true); }
    // Streams at once per worker: of files above a slice (each holds up to 2.5 MiB of
    // coder state between steps), and of any size (each may hold a compressed piece
    // until its client reads it). Past these, a file goes out as it is.
    static constexpr std::size_t kMaxStreams = 16;
    static constexpr std::size_t kMaxSmallStreams = 256;

private:
    struct Lookup;  // the per-request inputs of resolution

    std::uint16_t resolve(const Lookup& lookup, Response& out);
    bool fallback_applies(const ServeOptions& options) const;
    void redirect(Site& site, const RedirectRule& rule, const http::Request& request, Response& out);
    void resolve_regular(const Lookup& lookup, Located found, std::string_view name, Response& out);
    void resolve_directory(const Lookup& lookup, UniqueFd dir, Response& out);
    std::shared_ptr<CachedFile> load(Site& site, UniqueFd fd, const struct stat& st, std::string_view type_name,
                                     std::string_view encoding, std::int64_t now_ms);
    void serve(const Lookup& lookup, std::shared_ptr<const CachedFile> file, Response& out);
    void serve_file(const Lookup& lookup, std::shared_ptr<const CachedFile> file, Response& out);
    bool serve_compressed(const Lookup& lookup, std::shared_ptr<const CachedFile>& file, http::Coding coding,
                          Response& out);
    const VariantFields& variant_fields(const CachedFile& file, http::Coding coding) const;
    CompressionCache::Bytes compress_now(const CachedFile& file, http::Coding coding);
    void serve_listing(const Lookup& lookup, int dir_fd, Response& out);
    void redirect_to_directory(const Lookup& lookup, Response& out);
    void options(Response& out) const;
    bool custom_error(Site& site, std::uint16_t status, bool head_only, Response& out);
    void start(std::uint16_t status, Response& out) const;
    void add_body_range(const CachedFile& file, std::uint64_t offset, std::uint64_t length, Response& out) const;
    void add_multipart(const CachedFile& file, Response& out) const;
    static void hold(std::shared_ptr<const CachedFile> file, Response& out);
    // The status for a failed lookup or open; our own faults (not the client's) are logged.
    std::uint16_t open_failed(int error, const char* relative) const;

    const MimeTypes& mime_;
    const DateCache& date_;
    const ErrorPages& pages_;
    std::string boundary_;
    std::string multipart_type_;  // "multipart/byteranges; boundary=…"
    Logger& log_;
    WorkerCounters unshared_counters_;  // when the worker exports none (unit tests)
    WorkerCounters& counters_;          // cache hits and misses
    NormalPath path_;                   // scratch, reused
    std::string sibling_path_;          // scratch, reused
    std::string key_;                   // scratch, reused
    CompressionCache compressed_;       // this worker's compressed variants, every site's
    std::size_t streams_in_flight_ = 0;
    std::size_t small_streams_in_flight_ = 0;
    std::size_t compress_now_left_ = kCompressNowPerTurn;
    std::size_t steps_left_ = kStreamStepsPerTurn;
};

}  // namespace pywebd
