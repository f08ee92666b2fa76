#include "static_handler.hpp"

#include <sys/stat.h>

#include "decide.hpp"
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

}  // namespace

StaticHandler::StaticHandler(int root_fd, ServeOptions options, const MimeTypes& mime, const DateCache& date,
                             const ErrorPages& pages, std::string boundary)
    : root_fd_(root_fd), options_(std::move(options)), mime_(mime), date_(date), pages_(pages),
      boundary_(std::move(boundary)) {}

void StaticHandler::start_head(std::uint16_t status, const Framing& framing, Response& out) const {
    out.status = status;
    out.close = framing.close;
    http::HeadWriter(out.head).status_line(status);
    out.head.append(date_.common_fields());
    if (framing.close) out.head.append("Connection: close\r\n");
    else if (framing.http10) out.head.append("Connection: keep-alive\r\n");
}

void StaticHandler::error(std::uint16_t status, const Framing& framing, Response& out, std::string_view extra) {
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

    OpenResult opened = open_beneath(root_fd_, path_.relative().data());
    if (!opened.fd) return error(status_for_open_error(opened.error), framing, out);
    struct stat st {};
    if (::fstat(opened.fd.get(), &st) != 0) return error(500, framing, out);
    if (S_ISDIR(st.st_mode)) {
        if (!path_.trailing_slash) return redirect_to_directory(facts, framing, out);
        return serve_directory(head, facts, framing, out);
    }
    if (!S_ISREG(st.st_mode)) return error(403, framing, out);  // FIFO, device, socket
    if (path_.trailing_slash) return error(404, framing, out);  // "/file.html/" names no directory
    out.file = std::move(opened.fd);
    serve_file(head, facts, framing, FileFacts::from(st), path_.path, out);
}

void StaticHandler::serve_directory(const http::RequestHead& head, const http::RequestFacts& facts,
                                    const Framing& framing, Response& out) {
    for (const std::string& name : options_.index) {
        index_path_.assign(path_.path.size() > 1 ? std::string_view(path_.path).substr(1) : std::string_view());
        if (!index_path_.empty()) index_path_.push_back('/');
        index_path_.append(name);
        OpenResult opened = open_beneath(root_fd_, index_path_.c_str());
        if (!opened.fd) {
            if (opened.error == ENOENT) continue;
            return error(status_for_open_error(opened.error), framing, out);
        }
        struct stat st {};
        if (::fstat(opened.fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        out.file = std::move(opened.fd);
        return serve_file(head, facts, framing, FileFacts::from(st), name, out);
    }
    error(403, framing, out);  // a directory without an index is not listed
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

void StaticHandler::serve_file(const http::RequestHead& head, const http::RequestFacts& facts, const Framing& framing,
                               const FileFacts& file, std::string_view path, Response& out) {
    const ETag etag = make_etag(file);
    const auto outcome = http::decide(head, facts, file, etag, options_.max_ranges, out.ranges);
    if (outcome == http::Outcome::PreconditionFailed) {
        out.file.reset();
        return error(412, framing, out);
    }
    if (outcome == http::Outcome::RangeNotSatisfiable) {
        out.file.reset();
        std::string range = "Content-Range: bytes */";  // §15.5.17
        http::HeadWriter(range).number(file.size);
        range.append("\r\n");
        return error(416, framing, out, range);
    }
    http::HeadWriter writer(out.head);
    if (outcome == http::Outcome::NotModified) {
        out.file.reset();
        start_head(304, framing, out);
        writer.field("ETag", etag.view()).date_field("Last-Modified", file.mtime).end();
        return;
    }
    const std::string_view type = mime_.lookup(path);
    start_head(outcome == http::Outcome::Partial ? 206 : 200, framing, out);
    if (outcome == http::Outcome::Whole) {
        writer.field("Content-Type", type);
        add_file_range(out, 0, file.size);
    } else if (out.ranges.size() == 1) {
        const http::ByteRange& r = out.ranges.front();
        writer.field("Content-Type", type).content_range(r.first, r.last, file.size);
        add_file_range(out, r.first, r.length());
    } else {
        out.head.append("Content-Type: multipart/byteranges; boundary=").append(boundary_).append("\r\n");
        add_multipart(type, file, out);
    }
    out.body_length = 0;
    for (const BodySegment& segment : out.segments) out.body_length += segment.length;
    writer.field("Content-Length", out.body_length)
        .date_field("Last-Modified", file.mtime)
        .field("ETag", etag.view())
        .field("Accept-Ranges", "bytes")
        .field("X-Content-Type-Options", "nosniff")
        .end();
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
