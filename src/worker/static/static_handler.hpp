#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/content_coding.hpp"
#include "http/date_cache.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "log.hpp"
#include "mime_types.hpp"
#include "static/error_pages.hpp"
#include "static/file_cache.hpp"
#include "static/file_open.hpp"
#include "static/header_rules.hpp"
#include "static/uri_path.hpp"

namespace pywebd {

struct ServeOptions {
    std::vector<std::string> index = {"index.html"};
    bool serve_dotfiles = false;
    bool serve_well_known = true;
    std::size_t max_ranges = 16;
    bool precompressed = true;
    bool directory_listing = false;
    std::map<std::uint16_t, std::string> error_pages;  // status → path under the root
    HeaderRules header_rules;
    Confinement confinement = Confinement::Openat2;
    std::size_t small_file = 16 * 1024;  // files up to this size are held in memory
};

// How the response is framed on the connection, decided before the handler runs.
struct Framing {
    bool head_only = false;  // HEAD: fields as for GET, no body
    bool close = false;      // last response on this connection
    bool http10 = false;     // an HTTP/1.0 client needs "Connection: keep-alive" to keep it
};

// Turns one request into a planned Response: resolves the target beneath the root,
// opens and stats the file once (or finds it in the worker's FileCache), picks a
// precompressed sibling when the client accepts one, decides the status (decide()),
// and writes the head. It owns no connection state; the Connection sends what it plans.
class StaticHandler {
public:
    StaticHandler(int root_fd, ServeOptions options, const MimeTypes& mime, const DateCache& date,
                  const ErrorPages& pages, std::string boundary, Logger& log, FileCache& cache);

    void handle(const http::Request& request, const Framing& framing, std::int64_t now_ms, Response& out);

    // An error response: the configured page for `status` if there is one and it can be
    // opened, else a small built-in HTML body. `extra` is added verbatim (CRLF-ended fields).
    void error(std::uint16_t status, const Framing& framing, Response& out, std::string_view extra = {});

private:
    struct Lookup;  // the per-request inputs of resolution

    void resolve_regular(const Lookup& lookup, Located found, std::string_view name, Response& out);
    void resolve_directory(const Lookup& lookup, UniqueFd dir, Response& out);
    std::shared_ptr<CachedFile> load(UniqueFd fd, const struct stat& st, std::string_view type_name,
                                     std::string_view encoding, std::int64_t now_ms) const;
    void serve(const http::Request& request, const Framing& framing, std::shared_ptr<const CachedFile> file,
               Response& out);
    void serve_listing(const Framing& framing, int dir_fd, Response& out);
    void redirect_to_directory(const http::Request& request, const Framing& framing, Response& out);
    void options(const Framing& framing, Response& out);
    bool custom_error(std::uint16_t status, const Framing& framing, Response& out, std::string_view extra);
    void start_head(std::uint16_t status, const Framing& framing, Response& out) const;
    void add_body_range(const CachedFile& file, std::uint64_t offset, std::uint64_t length, Response& out) const;
    void add_multipart(const CachedFile& file, Response& out) const;
    Located locate(const char* relative) const { return pywebd::locate(root_fd_, relative, options_.confinement); }
    // The status for a failed lookup or open; our own faults (not the client's) are logged.
    std::uint16_t open_failed(int error, const char* relative) const;

    int root_fd_;
    ServeOptions options_;
    const MimeTypes& mime_;
    const DateCache& date_;
    const ErrorPages& pages_;
    std::string boundary_;
    Logger& log_;
    FileCache& cache_;
    NormalPath path_;           // scratch, reused
    std::string sibling_path_;  // scratch, reused
    std::string key_;           // scratch, reused
};

}  // namespace pywebd
