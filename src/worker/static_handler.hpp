#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "date_cache.hpp"
#include "error_pages.hpp"
#include "file_facts.hpp"
#include "file_open.hpp"
#include "log.hpp"
#include "header_rules.hpp"
#include "http_head.hpp"
#include "mime_types.hpp"
#include "request_facts.hpp"
#include "response.hpp"
#include "uri_path.hpp"

namespace pywebd {

struct ServeOptions {
    std::vector<std::string> index = {"index.html"};
    bool serve_dotfiles = false;
    std::size_t max_ranges = 16;
    bool precompressed = true;
    bool directory_listing = false;
    std::map<std::uint16_t, std::string> error_pages;  // status → path under the root
    HeaderRules header_rules;
    Confinement confinement = Confinement::Openat2;
};

// How the response is framed on the connection, decided before the handler runs.
struct Framing {
    bool head_only = false;  // HEAD: fields as for GET, no body
    bool close = false;      // last response on this connection
    bool http10 = false;     // an HTTP/1.0 client needs "Connection: keep-alive" to keep it
};

// Turns one request into a planned Response: resolves the target beneath the root,
// opens and stats the file once, picks a precompressed sibling when the client accepts
// one, decides the status (decide()), and writes the head. It owns no connection
// state; the Connection sends what it plans.
class StaticHandler {
public:
    StaticHandler(int root_fd, ServeOptions options, const MimeTypes& mime, const DateCache& date,
                  const ErrorPages& pages, std::string boundary, Logger& log);

    void handle(const http::RequestHead& head, const http::RequestFacts& facts, const Framing& framing,
                Response& out);

    // An error response: the configured page for `status` if there is one and it can be
    // opened, else a small built-in HTML body. `extra` is added verbatim (CRLF-ended fields).
    void error(std::uint16_t status, const Framing& framing, Response& out, std::string_view extra = {});

private:
    // The file chosen to answer a request, and what the response says about it.
    struct Selected {
        FileFacts facts;
        std::string_view type_name;  // the name whose extension gives the Content-Type
        std::string_view encoding;   // Content-Encoding token, empty for identity
    };

    void serve_regular(const http::RequestHead& head, const http::RequestFacts& facts, const Framing& framing,
                       std::string_view name, const struct stat& st, Response& out);
    void serve_file(const http::RequestHead& head, const http::RequestFacts& facts, const Framing& framing,
                    const Selected& file, Response& out);
    void serve_directory(const http::RequestHead& head, const http::RequestFacts& facts, const Framing& framing,
                         UniqueFd dir, Response& out);
    void serve_listing(const Framing& framing, int dir_fd, Response& out);
    void redirect_to_directory(const http::RequestFacts& facts, const Framing& framing, Response& out);
    void options(const Framing& framing, Response& out);
    bool custom_error(std::uint16_t status, const Framing& framing, Response& out, std::string_view extra);
    OpenResult open(const char* relative) const { return open_confined(root_fd_, relative, options_.confinement); }
    // The status for a failed open; our own faults (not the client's) are logged.
    std::uint16_t open_failed(const OpenResult& result, const char* relative) const;
    void start_head(std::uint16_t status, const Framing& framing, Response& out) const;
    void representation_fields(const Selected& file, const ETag& etag, Response& out) const;
    void add_multipart(std::string_view type, const FileFacts& file, Response& out) const;

    int root_fd_;
    ServeOptions options_;
    const MimeTypes& mime_;
    const DateCache& date_;
    const ErrorPages& pages_;
    std::string boundary_;
    Logger& log_;
    NormalPath path_;          // scratch, reused
    std::string sibling_path_; // scratch, reused
};

}  // namespace pywebd
