#include "static/static_handler.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "h1/head_writer.hpp"
#include "http/decide.hpp"
#include "static/directory_listing.hpp"

namespace pywebd {
namespace {

constexpr std::string_view kAllow = "Allow: GET, HEAD, OPTIONS\r\n";

void add_memory(Response& out, std::string_view bytes) {
    if (!bytes.empty()) out.segments.push_back({bytes.data(), 0, bytes.size()});
}

std::string_view last_segment(std::string_view path) { return path.substr(path.rfind('/') + 1); }

// Dot segments (.git, .env …) are 404 unless configured. /.well-known/ (RFC 8615) is
// the exception by default: ACME HTTP-01 renewals and security.txt live there. Dot
// segments below it are still dotfiles.
bool dotfile_refused(const NormalPath& p, const ServeOptions& options) {
    if (!p.has_dot_segment || options.serve_dotfiles) return false;
    constexpr std::string_view kWellKnown = "/.well-known";
    const std::string_view path = p.path;
    const bool under_well_known = options.serve_well_known && path.starts_with(kWellKnown) &&
                                  (path.size() == kWellKnown.size() || path[kWellKnown.size()] == '/');
    return !under_well_known || path.find("/.", kWellKnown.size()) != std::string_view::npos;
}

// Reads a whole small file; false if it changed size under us (then it is sent with sendfile).
bool read_whole(int fd, std::uint64_t size, std::string& out) {
    out.resize(size);
    std::uint64_t done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, out.data() + done, size - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::uint64_t>(n);
    }
    if (done == size) return true;
    out.clear();
    return false;
}

}  // namespace

// What resolution needs besides the path in path_: the request, and the codings the
// client accepts (which decide the precompressed sibling, and so the cache key).
struct StaticHandler::Lookup {
    const http::Request& request;
    const Framing& framing;
    http::CodingPreference codings;
    std::int64_t now_ms;
};

StaticHandler::StaticHandler(int root_fd, ServeOptions options, const MimeTypes& mime, const DateCache& date,
                             const ErrorPages& pages, std::string boundary, Logger& log, FileCache& cache)
    : root_fd_(root_fd),
      options_(std::move(options)),
      mime_(mime),
      date_(date),
      pages_(pages),
      boundary_(std::move(boundary)),
      log_(log),
      cache_(cache) {}

std::uint16_t StaticHandler::open_failed(int error, const char* relative) const {
    const std::uint16_t status = status_for_open_error(error);
    if (status >= 500) log_.error("cannot open {}: {}", relative, std::strerror(error));
    return status;
}

void StaticHandler::start_head(std::uint16_t status, const Framing& framing, Response& out) const {
    out.status = status;
    out.close = framing.close;
    h1::HeadWriter(out.head).status_line(status);
    out.head.append(date_.common_fields());
    if (framing.close)
        out.head.append("Connection: close\r\n");
    else if (framing.http10)
        out.head.append("Connection: keep-alive\r\n");
}

void StaticHandler::error(std::uint16_t status, const Framing& framing, Response& out, std::string_view extra) {
    if (custom_error(status, framing, out, extra)) return;
    const std::string_view body = pages_.body(status);
    start_head(status, framing, out);
    h1::HeadWriter(out.head).field("Content-Type", "text/html; charset=utf-8").field("Content-Length", body.size());
    out.head.append(extra);
    h1::HeadWriter(out.head).end();
    if (!framing.head_only) add_memory(out, body);
}

// The operator's page for this status, read from under the root like any file. Any
// problem with it falls back to the built-in page rather than failing the response.
bool StaticHandler::custom_error(std::uint16_t status, const Framing& framing, Response& out, std::string_view extra) {
    const auto page = options_.error_pages.find(status);
    if (page == options_.error_pages.end()) return false;
    NormalPath path;
    if (normalize_path(page->second, path) != PathError::None) return false;
    Located page_file = locate(path.relative().data());
    if (!page_file.fd || !S_ISREG(page_file.st.st_mode)) return false;
    auto file = std::make_shared<CachedFile>();
    file->fd = std::move(page_file.fd);
    file->facts = FileFacts::from(page_file.st);
    start_head(status, framing, out);
    h1::HeadWriter(out.head).field("Content-Type", mime_.lookup(path.path)).field("Content-Length", file->facts.size);
    out.head.append(extra);
    h1::HeadWriter(out.head).end();
    if (!framing.head_only) add_body_range(*file, 0, file->facts.size, out);
    if (!out.segments.empty()) out.file = std::move(file);
    return true;
}

void StaticHandler::options(const Framing& framing, Response& out) {
    start_head(204, framing, out);
    out.head.append(kAllow);
    h1::HeadWriter(out.head).end();
}

void StaticHandler::handle(const http::Request& request, const Framing& framing, std::int64_t now_ms, Response& out) {
    switch (request.method) {
    case http::Method::Get:
    case http::Method::Head: break;
    case http::Method::Options: return options(framing, out);
    case http::Method::Unknown: return error(501, framing, out, kAllow);  // RFC 9110 §9.1
    default: return error(405, framing, out, kAllow);
    }
    if (normalize_path(request.path, path_) != PathError::None) return error(400, framing, out);
    if (dotfile_refused(path_, options_)) return error(404, framing, out);

    Lookup lookup{request, framing, {}, now_ms};
    if (options_.precompressed && request.has_accept_encoding) lookup.codings = http::negotiate_codings(request);
    if (cache_.enabled()) {
        // "/docs" (a redirect) and "/docs/" (its index) are different answers.
        key_.assign(path_.path);
        if (path_.trailing_slash && path_.path.size() > 1) key_.push_back('/');
        key_.push_back('\0');
        for (std::size_t i = 0; i < lookup.codings.count; ++i) key_.push_back(lookup.codings.order[i].suffix[1]);
        if (auto hit = cache_.find(key_, now_ms)) return serve(request, framing, std::move(hit), out);
    }

    Located found = locate(path_.relative().data());
    if (!found.fd) return error(open_failed(found.error, path_.relative().data()), framing, out);
    if (S_ISDIR(found.st.st_mode)) {
        if (!path_.trailing_slash) return redirect_to_directory(request, framing, out);
        return resolve_directory(lookup, std::move(found.fd), out);
    }
    if (!S_ISREG(found.st.st_mode)) return error(403, framing, out);  // FIFO, device, socket
    if (path_.trailing_slash) return error(404, framing, out);        // "/file.html/" names no directory
    resolve_regular(lookup, std::move(found), path_.relative(), out);
}

// `name` is the file's path relative to the root and `found` the regular file open on
// it; a precompressed sibling the client accepts replaces it.
void StaticHandler::resolve_regular(const Lookup& lookup, Located found, std::string_view name, Response& out) {
    const std::string_view type_name = last_segment(name);
    std::shared_ptr<CachedFile> file;
    if (!name.ends_with(".br") && !name.ends_with(".gz")) {
        for (std::size_t i = 0; i < lookup.codings.count && !file; ++i) {
            const http::CodingChoice& choice = lookup.codings.order[i];
            sibling_path_.assign(name).append(choice.suffix);
            Located sibling = locate(sibling_path_.c_str());
            if (!sibling.fd || !S_ISREG(sibling.st.st_mode)) continue;
            file = load(std::move(sibling.fd), sibling.st, type_name, choice.token, lookup.now_ms);
        }
    }
    if (!file) file = load(std::move(found.fd), found.st, type_name, {}, lookup.now_ms);
    cache_.insert(key_, file);
    serve(lookup.request, lookup.framing, std::move(file), out);
}

void StaticHandler::resolve_directory(const Lookup& lookup, UniqueFd dir, Response& out) {
    for (const std::string& name : options_.index) {
        std::string relative(path_.path.size() > 1 ? std::string_view(path_.path).substr(1) : std::string_view());
        if (!relative.empty()) relative.push_back('/');
        relative.append(name);
        Located index = locate(relative.c_str());
        if (!index.fd) {
            if (index.error == ENOENT) continue;
            return error(open_failed(index.error, relative.c_str()), lookup.framing, out);
        }
        if (!S_ISREG(index.st.st_mode)) continue;
        return resolve_regular(lookup, std::move(index), relative, out);
    }
    if (options_.directory_listing) return serve_listing(lookup.framing, dir.get(), out);
    error(403, lookup.framing, out);  // a directory without an index is not listed unless configured
}

// Everything about a file that does not change from one response to the next.
std::shared_ptr<CachedFile> StaticHandler::load(UniqueFd fd, const struct stat& st, std::string_view type_name,
                                                std::string_view encoding, std::int64_t now_ms) const {
    auto file = std::make_shared<CachedFile>();
    file->fd = std::move(fd);
    file->facts = FileFacts::from(st);
    file->etag = make_etag(file->facts);
    file->type = mime_.lookup(type_name);
    file->encoding = encoding;
    file->checked_ms = now_ms;
    h1::HeadWriter validators(file->validators);
    validators.date_field("Last-Modified", file->facts.mtime).field("ETag", file->etag.view());
    if (options_.precompressed) validators.field("Vary", "Accept-Encoding");
    file->expires_seconds = options_.header_rules.write(path_.path, path_.trailing_slash, type_name, file->validators);
    h1::HeadWriter ok(file->ok_fields);
    ok.field("Content-Type", file->type);
    if (!encoding.empty()) ok.field("Content-Encoding", encoding);
    ok.field("Content-Length", file->facts.size);
    file->ok_fields.append(file->validators);
    ok.field("Accept-Ranges", "bytes").field("X-Content-Type-Options", "nosniff");
    if (file->facts.size <= options_.small_file)
        file->in_memory = read_whole(file->fd.get(), file->facts.size, file->body);
    return file;
}

void StaticHandler::serve_listing(const Framing& framing, int dir_fd, Response& out) {
    if (!render_directory_listing(dir_fd, path_.path == "/" ? "/" : path_.path + "/", out.parts))
        return error(403, framing, out);
    start_head(200, framing, out);
    h1::HeadWriter(out.head)
        .field("Content-Type", "text/html; charset=utf-8")
        .field("Content-Length", out.parts.size())
        .field("Cache-Control", "no-cache")
        .end();
    if (!framing.head_only) add_memory(out, out.parts);
}

void StaticHandler::redirect_to_directory(const http::Request& request, const Framing& framing, Response& out) {
    // Built from the normalised path, never the raw one: "//host/.." would otherwise be a
    // scheme-relative reference to another site. A normalised path starts with exactly
    // one '/', and percent-encoding keeps every byte of it inside the path component.
    std::string location = "Location: ";
    append_percent_encoded(path_.path, location);
    location.push_back('/');
    if (request.has_query) location.append("?").append(request.query);  // URI characters only (parser)
    location.append("\r\n");
    error(301, framing, out, location);
}

void StaticHandler::add_body_range(const CachedFile& file, std::uint64_t offset, std::uint64_t length,
                                   Response& out) const {
    if (length == 0) return;
    if (file.in_memory)
        add_memory(out, std::string_view(file.body).substr(offset, length));
    else
        out.segments.push_back({nullptr, offset, length});
}

void StaticHandler::serve(const http::Request& request, const Framing& framing, std::shared_ptr<const CachedFile> file,
                          Response& out) {
    const auto outcome = http::decide(request, file->facts, file->etag, options_.max_ranges, out.ranges);
    h1::HeadWriter writer(out.head);
    switch (outcome) {
    case http::Outcome::PreconditionFailed: return error(412, framing, out);
    case http::Outcome::RangeNotSatisfiable: {
        std::string range = "Content-Range: bytes */";  // RFC 9110 §15.5.17
        h1::HeadWriter(range).number(file->facts.size);
        range.append("\r\n");
        return error(416, framing, out, range);
    }
    case http::Outcome::NotModified:
        // §15.4.5: a 304 carries what a 200 would in ETag, Cache-Control, Expires, Vary.
        start_head(304, framing, out);
        out.head.append(file->validators);
        HeaderRules::write_expires(file->expires_seconds, date_.now(), out.head);
        return writer.end();
    case http::Outcome::Whole:
        start_head(200, framing, out);
        out.head.append(file->ok_fields);
        if (!framing.head_only) add_body_range(*file, 0, file->facts.size, out);
        break;
    case http::Outcome::Partial: {
        start_head(206, framing, out);
        if (out.ranges.size() == 1) {
            const http::ByteRange& r = out.ranges.front();
            writer.field("Content-Type", file->type).content_range(r.first, r.last, file->facts.size);
            add_body_range(*file, r.first, r.length(), out);
        } else {
            out.head.append("Content-Type: multipart/byteranges; boundary=").append(boundary_).append("\r\n");
            add_multipart(*file, out);
        }
        if (!file->encoding.empty()) writer.field("Content-Encoding", file->encoding);
        std::uint64_t length = 0;
        for (const BodySegment& segment : out.segments) length += segment.length;
        writer.field("Content-Length", length);
        out.head.append(file->validators);
        writer.field("Accept-Ranges", "bytes").field("X-Content-Type-Options", "nosniff");
        break;  // only GET gets here: Range is defined for GET alone (RFC 9110 §14.2)
    }
    }
    HeaderRules::write_expires(file->expires_seconds, date_.now(), out.head);
    writer.end();
    if (!out.segments.empty()) out.file = std::move(file);
}

void StaticHandler::add_multipart(const CachedFile& file, Response& out) const {
    // Segments point into out.parts as it grows, so reserve what it can reach first:
    // within capacity, appending never moves the characters.
    const std::size_t per_part = boundary_.size() + file.type.size() + 32 + 20 + 3 * 20 + 8;
    out.parts.reserve(out.ranges.size() * per_part + boundary_.size() + 8);
    for (const http::ByteRange& r : out.ranges) {
        const std::size_t start = out.parts.size();
        out.parts.append("\r\n--").append(boundary_).append("\r\nContent-Type: ").append(file.type).append("\r\n");
        h1::HeadWriter(out.parts).content_range(r.first, r.last, file.facts.size);
        out.parts.append("\r\n");
        add_memory(out, std::string_view(out.parts).substr(start));
        add_body_range(file, r.first, r.length(), out);
    }
    const std::size_t closing = out.parts.size();
    out.parts.append("\r\n--").append(boundary_).append("--\r\n");
    add_memory(out, std::string_view(out.parts).substr(closing));
}

}  // namespace pywebd
