#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "date_cache.hpp"
#include "error_pages.hpp"
#include "file_facts.hpp"
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
};

// How the response is framed on the connection, decided before the handler runs.
struct Framing {
    bool head_only = false;  // HEAD: fields as for GET, no body
    bool close = false;      // last response on this connection
    bool http10 = false;     // an HTTP/1.0 client needs "Connection: keep-alive" to keep it
};

// Turns one request into a planned Response: resolves the target beneath the root,
// opens and stats the file once, decides the status (decide()), and writes the head.
// Owns no connection state; the Connection sends what it plans.
class StaticHandler {
public:
    StaticHandler(int root_fd, ServeOptions options, const MimeTypes& mime, const DateCache& date,
                  const ErrorPages& pages, std::string boundary);

    void handle(const http::RequestHead& head, const http::RequestFacts& facts, const Framing& framing,
                Response& out);

    // An error response with a small HTML body. `extra` is added verbatim (CRLF-ended fields).
    void error(std::uint16_t status, const Framing& framing, Response& out, std::string_view extra = {});

private:
    void serve_file(const http::RequestHead& head, const http::RequestFacts& facts, const Framing& framing,
                    const FileFacts& file, std::string_view path, Response& out);
    void redirect_to_directory(const http::RequestFacts& facts, const Framing& framing, Response& out);
    void serve_directory(const http::RequestHead& head, const http::RequestFacts& facts, const Framing& framing,
                         Response& out);
    void options(const Framing& framing, Response& out);
    void start_head(std::uint16_t status, const Framing& framing, Response& out) const;
    void add_multipart(std::string_view type, const FileFacts& file, Response& out) const;

    int root_fd_;
    ServeOptions options_;
    const MimeTypes& mime_;
    const DateCache& date_;
    const ErrorPages& pages_;
    std::string boundary_;
    NormalPath path_;        // scratch, reused
    std::string index_path_; // scratch, reused
};

}  // namespace pywebd
