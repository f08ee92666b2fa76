#include "static_handler.hpp"

#include <sys/stat.h>

#include <cstring>

#include "content_coding.hpp"
#include "decide.hpp"
#include "directory_listing.hpp"
#include "file_open.hpp"
#include "head_writer.hpp"

namespace pywebd {
namespace {

constexpr std::string_view kAllow = "Allow: GET, HEAD, OPTIONS\r\n";

void add_memory(Response& out, std::string_view bytes) {
    if (!bytes.empty()) out.segments.push_back({bytes.data(), 0, bytes.size()});
}

void add_file_range(Response& out, std::uint64_t offset, std::uint64_t length) {
    if (length > 0) out.segments.push_back({nullptr, offset, length});
}

std::string_view last_segment(std::string_view path) { return path.substr(path.rfind('/') + 1); }

}  // namespace

StaticHandler::StaticHandler(int root_fd, ServeOptions options, const MimeTypes& mime, const DateCache& date,
                             const ErrorPages& pages, std::string boundary, Logger& log)
    : root_fd_(root_fd), options_(std::move(options)), mime_(mime), date_(date), pages_(pages),
      boundary_(std::move(boundary)), log_(log) {}

std::uint16_t StaticHandler::open_failed(const OpenResult& result, const char* relative) const {
    const std::uint16_t status = status_for_open_error(result.error);
    if (status >= 500) log_.error("cannot open {}: {}", relative, std::strerror(result.error));
    return status;
}

void StaticHandler::start_head(std::uint16_t status, const Framing& framing, Response& out) const {
    out.status = status;
    out.close = framing.close;
    http::HeadWriter(out.head).status_line(status);
    out.head.append(date_.common_fields());
    if (framing.close) out.head.append("Connection: close\r\n");
    else if (framing.http10) out.head.append("Connection: keep-alive\r\n");
}

void StaticHandler::error(std::uint16_t status, const Framing& framing, Response& out, std::string_view extra) {
    if (custom_error(status, framing, out, extra)) return;
    const std::string_view body = pages_.body(status);
    start_head(status, framing, out);
    http::HeadWriter(out.head)
        .field("Content-Type", "text/html; charset=utf-8")
        .field("Content-Length", body.size());
    out.head.append(extra);
    http::HeadWriter(out.head).end();
    out.body_length = body.size();
    if (!framing.head_only) add_memory(out, body);
}

// The operator's page for this status, read from under the root like any file. Any
// problem with it falls back to the built-in page rather than failing the response.
bool StaticHandler::custom_error(std::uint16_t status, const Framing& framing, Response& out, std::string_view extra) {
    const auto page = options_.error_pages.find(status);
    if (page == options_.error_pages.end()) return false;
    NormalPath path;
    if (normalize_path(page->second, path) != PathError::None) return false;
    OpenResult opened = open(path.relative().data());
    struct stat st {};
    if (!opened.fd || ::fstat(opened.fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    start_head(status, framing, out);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    http::HeadWriter(out.head).field("Content-Type", mime_.lookup(path.path)).field("Content-Length", size);
    out.head.append(extra);
    http::HeadWriter(out.head).end();
    out.body_length = size;
    if (!framing.head_only && size > 0) {
        out.file = std::move(opened.fd);
        add_file_range(out, 0, size);
    }
    return true;
}

void StaticHandler::options(const Framing& framing, Response& out) {
    start_head(204, framing, out);
    out.head.append(kAllow);
    http::HeadWriter(out.head).end();
}

void StaticHandler::handle(const http::RequestHead& head, const http::RequestFacts& facts, const Framing& framing,
                           Response& out) {
    switch (head.method) {
    case http::Method::Get:
    case http::Method::Head: break;
    case http::Method::Options: return options(framing, out);
    case http::Method::Unknown: return error(501, framing, out, kAllow);  // RFC 9110 §9.1
    default: return error(405, framing, out, kAllow);
    }
    if (normalize_path(facts.path, path_) != PathError::None) return error(400, framing, out);
    if (path_.has_dot_segment && !options_.serve_dotfiles) return error(404, framing, out);

    OpenResult opened = open(path_.relative().data());
    if (!opened.fd) return error(open_failed(opened, path_.relative().data()), framing, out);
    struct stat st {};
    if (::fstat(opened.fd.get(), &st) != 0) return error(500, framing, out);
    if (S_ISDIR(st.st_mode)) {
        if (!path_.trailing_slash) return redirect_to_directory(facts, framing, out);
        return serve_directory(head, facts, framing, std::move(opened.fd), out);
    }
    if (!S_ISREG(st.st_mode)) return error(403, framing, out);  // FIFO, device, socket
    if (path_.trailing_slash) return error(404, framing, out);  // "/file.html/" names no directory
    out.file = std::move(opened.fd);
    serve_regular(head, facts, framing, path_.relative(), st, out);
}

// `name` is the file's path relative to the root; `out.file` is open on it.
void StaticHandler::serve_regular(const http::RequestHead& head, const http::RequestFacts& facts,
                                  const Framing& framing, std::string_view name, const struct stat& st,
                                  Response& out) {
    Selected selected{FileFacts::from(st), last_segment(name), {}};
    if (options_.precompressed && facts.has_accept_encoding && !name.ends_with(".br") && !name.ends_with(".gz")) {
        const http::CodingPreference preference = http::negotiate_codings(head);
        for (std::size_t i = 0; i < preference.count; ++i) {
            const http::CodingChoice& choice = preference.order[i];
            sibling_path_.assign(name).append(choice.suffix);
            OpenResult sibling = open(sibling_path_.c_str());
            struct stat sst {};
            if (!sibling.fd || ::fstat(sibling.fd.get(), &sst) != 0 || !S_ISREG(sst.st_mode)) continue;
            out.file = std::move(sibling.fd);
            selected.facts = FileFacts::from(sst);  // its own size, validators and ETag
            selected.encoding = choice.token;
            break;
        }
    }
    serve_file(head, facts, framing, selected, out);
}

void StaticHandler::serve_directory(const http::RequestHead& head, const http::RequestFacts& facts,
                                    const Framing& framing, UniqueFd dir, Response& out) {
    for (const std::string& name : options_.index) {
        sibling_path_.assign(path_.path.size() > 1 ? std::string_view(path_.path).substr(1) : std::string_view());
        if (!sibling_path_.empty()) sibling_path_.push_back('/');
        sibling_path_.append(name);
        OpenResult opened = open(sibling_path_.c_str());
        if (!opened.fd) {
            if (opened.error == ENOENT) continue;
            return error(open_failed(opened, sibling_path_.c_str()), framing, out);
        }
        struct stat st {};
        if (::fstat(opened.fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        out.file = std::move(opened.fd);
        const std::string relative = sibling_path_;  // serve_regular reuses the scratch
        return serve_regular(head, facts, framing, relative, st, out);
    }
    if (options_.directory_listing) return serve_listing(framing, dir.get(), out);
    error(403, framing, out);  // a directory without an index is not listed unless configured
}

void StaticHandler::serve_listing(const Framing& framing, int dir_fd, Response& out) {
    if (!render_directory_listing(dir_fd, path_.path == "/" ? "/" : path_.path + "/", out.parts))
        return error(403, framing, out);
    start_head(200, framing, out);
    http::HeadWriter(out.head)
        .field("Content-Type", "text/html; charset=utf-8")
        .field("Content-Length", out.parts.size())
        .field("Cache-Control", "no-cache")
        .end();
    out.body_length = out.parts.size();
    if (!framing.head_only) add_memory(out, out.parts);
}

void StaticHandler::redirect_to_directory(const http::RequestFacts& facts, const Framing& framing, Response& out) {
    // A relative reference (RFC 9110 §10.2.2) keeps the client's scheme and host, and
    // the raw path is already limited to URI characters, so it is safe in a header.
    std::string location = "Location: ";
    location.append(facts.path).push_back('/');
    if (facts.has_query) location.append("?").append(facts.query);
    location.append("\r\n");
    error(301, framing, out, location);
}

// Fields that describe the selected representation: on 200, 206 and 304 alike
// (RFC 9110 §15.4.5: a 304 carries what a 200 would in ETag, Cache-Control, Expires, Vary).
void StaticHandler::representation_fields(const Selected& file, const ETag& etag, Response& out) const {
    http::HeadWriter writer(out.head);
    writer.date_field("Last-Modified", file.facts.mtime).field("ETag", etag.view());
    if (options_.precompressed) writer.field("Vary", "Accept-Encoding");
    options_.header_rules.write(path_.path, path_.trailing_slash, file.type_name, date_.now(), out.head);
}

void StaticHandler::serve_file(const http::RequestHead& head, const http::RequestFacts& facts, const Framing& framing,
                               const Selected& file, Response& out) {
    const ETag etag = make_etag(file.facts);
    const auto outcome = http::decide(head, facts, file.facts, etag, options_.max_ranges, out.ranges);
    if (outcome == http::Outcome::PreconditionFailed) {
        out.file.reset();
        return error(412, framing, out);
    }
    if (outcome == http::Outcome::RangeNotSatisfiable) {
        out.file.reset();
        std::string range = "Content-Range: bytes */";  // §15.5.17
        http::HeadWriter(range).number(file.facts.size);
        range.append("\r\n");
        return error(416, framing, out, range);
    }
    http::HeadWriter writer(out.head);
    if (outcome == http::Outcome::NotModified) {
        out.file.reset();
        start_head(304, framing, out);
        representation_fields(file, etag, out);
        writer.end();
        return;
    }
    const std::string_view type = mime_.lookup(file.type_name);
    start_head(outcome == http::Outcome::Partial ? 206 : 200, framing, out);
    if (outcome == http::Outcome::Whole) {
        writer.field("Content-Type", type);
        add_file_range(out, 0, file.facts.size);
    } else if (out.ranges.size() == 1) {
        const http::ByteRange& r = out.ranges.front();
        writer.field("Content-Type", type).content_range(r.first, r.last, file.facts.size);
        add_file_range(out, r.first, r.length());
    } else {
        out.head.append("Content-Type: multipart/byteranges; boundary=").append(boundary_).append("\r\n");
        add_multipart(type, file.facts, out);
    }
    if (!file.encoding.empty()) writer.field("Content-Encoding", file.encoding);
    out.body_length = 0;
    for (const BodySegment& segment : out.segments) out.body_length += segment.length;
    writer.field("Content-Length", out.body_length);
    representation_fields(file, etag, out);
    writer.field("Accept-Ranges", "bytes").field("X-Content-Type-Options", "nosniff").end();
    if (framing.head_only) out.segments.clear();
    if (out.segments.empty()) out.file.reset();
}

void StaticHandler::add_multipart(std::string_view type, const FileFacts& file, Response& out) const {
    // Segments point into out.parts as it grows, so reserve what it can reach first:
    // within capacity, appending never moves the characters.
    const std::size_t per_part = boundary_.size() + type.size() + 32 + 20 + 3 * 20 + 8;
    out.parts.reserve(out.ranges.size() * per_part + boundary_.size() + 8);
    for (const http::ByteRange& r : out.ranges) {
        const std::size_t start = out.parts.size();
        out.parts.append("\r\n--").append(boundary_).append("\r\nContent-Type: ").append(type).append("\r\n");
        http::HeadWriter(out.parts).content_range(r.first, r.last, file.size);
        out.parts.append("\r\n");
        add_memory(out, std::string_view(out.parts).substr(start));
        add_file_range(out, r.first, r.length());
    }
    const std::size_t closing = out.parts.size();
    out.parts.append("\r\n--").append(boundary_).append("--\r\n");
    add_memory(out, std::string_view(out.parts).substr(closing));
}

}  // namespace pywebd
