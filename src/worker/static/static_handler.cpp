#include "static/static_handler.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "compress/encoder.hpp"
#include "compress/encoding_stream.hpp"
#include "http/authority.hpp"
#include "http/decide.hpp"
#include "static/directory_listing.hpp"
#include "strings.hpp"

namespace pywebd {
namespace {

constexpr std::string_view kAllowed = "GET, HEAD, OPTIONS";

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

// What resolution needs besides the path in path_: the site, the request, and the
// codings the client accepts (made on the fly, or looked for as precompressed siblings:
// then they decide the sibling, and so the cache key).
struct StaticHandler::Lookup {
    Site& site;
    const http::Request& request;
    http::CodingPreference accepted;
    std::int64_t now_ms;

    bool head_only() const { return request.method == http::Method::Head; }
    const http::CodingPreference& sibling_codings() const {
        static constexpr http::CodingPreference kNone{};
        return site.options.precompressed ? accepted : kNone;
    }
    Located locate(const char* relative) const {
        return pywebd::locate(site.root_fd, relative, site.options.confinement);
    }
};

StaticHandler::StaticHandler(const MimeTypes& mime, const DateCache& date, const ErrorPages& pages,
                             std::string boundary, Logger& log, std::size_t compressed_cache_bytes,
                             WorkerCounters* counters)
    : mime_(mime),
      date_(date),
      pages_(pages),
      boundary_(std::move(boundary)),
      multipart_type_("multipart/byteranges; boundary=" + boundary_),
      log_(log),
      counters_(counters != nullptr ? *counters : unshared_counters_),
      compressed_(compressed_cache_bytes) {}

std::uint16_t StaticHandler::open_failed(int error, const char* relative) const {
    const std::uint16_t status = status_for_open_error(error);
    if (status >= 500)
        log_.error("cannot open {}: {}", log_escaped(relative), std::strerror(error));  // a client's path
    return status;
}

// Every response starts with its status and the Server and Date fields.
void StaticHandler::start(std::uint16_t status, Response& out) const {
    out.status = status;
    out.shared.push_back(&date_.fields());
}

// The response's fields and body segments point into the file's memory or read its
// descriptor: the response keeps it alive until sent.
void StaticHandler::hold(std::shared_ptr<const CachedFile> file, Response& out) {
    out.file_fd = file->fd.get();
    out.holds = std::move(file);
}

void StaticHandler::error(Site& site, std::uint16_t status, bool head_only, Response& out) {
    if (custom_error(site, status, head_only, out)) return;
    builtin_error(status, head_only, out);
}

void StaticHandler::builtin_error(std::uint16_t status, bool head_only, Response& out) const {
    const std::string_view body = pages_.body(status);
    start(status, out);
    out.fields.add("Content-Type", "text/html; charset=utf-8");
    out.fields.add("Content-Length", body.size());
    if (!head_only) add_memory(out, body);
}

// The operator's page for this status, read from under the root like any file. Any
// problem with it falls back to the built-in page rather than failing the response.
bool StaticHandler::custom_error(Site& site, std::uint16_t status, bool head_only, Response& out) {
    const auto page = site.options.error_pages.find(status);
    if (page == site.options.error_pages.end()) return false;
    NormalPath path;
    if (normalize_path(page->second, path) != PathError::None) return false;
    Located page_file = locate(site.root_fd, path.relative().data(), site.options.confinement);
    if (!page_file.fd || !S_ISREG(page_file.st.st_mode)) return false;
    auto file = std::make_shared<CachedFile>();
    file->fd = std::move(page_file.fd);
    file->facts = FileFacts::from(page_file.st);
    start(status, out);
    out.fields.add("Content-Type", mime_.lookup(path.path));
    out.fields.add("Content-Length", file->facts.size);
    if (!head_only) add_body_range(*file, 0, file->facts.size, out);
    hold(std::move(file), out);
    return true;
}

void StaticHandler::options(Response& out) const {
    start(204, out);
    out.fields.add("Allow", kAllowed);
}

void StaticHandler::handle(Site& site, const http::Request& request, std::int64_t now_ms, Response& out) {
    const bool head_only = request.method == http::Method::Head;
    if (!site.options.redirects.empty() && !request.asterisk)
        if (const RedirectRule* rule = site.options.redirects.match(request.path))
            return redirect(site, *rule, request, out);
    switch (request.method) {
    case http::Method::Get:
    case http::Method::Head: break;
    case http::Method::Options: return options(out);
    case http::Method::Unknown:  // RFC 9110 §9.1
        error(site, 501, false, out);
        return out.fields.add("Allow", kAllowed);
    default: error(site, 405, false, out); return out.fields.add("Allow", kAllowed);
    }
    if (normalize_path(request.path, path_) != PathError::None) return error(site, 400, head_only, out);
    if (dotfile_refused(path_, site.options)) return error(site, 404, head_only, out);

    Lookup lookup{site, request, {}, now_ms};
    if (request.has_accept_encoding && (site.options.precompressed || site.options.compression.enabled))
        lookup.accepted = http::negotiate_codings(request);
    std::uint16_t status = resolve(lookup, out);
    if (status == 404 && fallback_applies(site.options)) {
        // As nginx's try_files $uri $uri/ /index.html: the fallback is served as if it had
        // been asked for (its own header rules, validators and ranges).
        if (normalize_path(site.options.fallback, path_) != PathError::None) return error(site, 404, head_only, out);
        status = resolve(lookup, out);
    }
    if (status != 0) error(site, status, head_only, out);
}

// A missing path gets the fallback unless it names an asset (a script or image that is
// missing must stay a 404, or the page would get HTML where it expects code).
bool StaticHandler::fallback_applies(const ServeOptions& options) const {
    if (options.fallback.empty()) return false;
    const std::string_view name = last_segment(path_.path);
    const std::size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0) return true;
    const std::string_view extension = name.substr(dot + 1);
    return std::none_of(options.asset_extensions.begin(), options.asset_extensions.end(),
                        [&](const std::string& asset) { return iequals(asset, extension); });
}

void StaticHandler::redirect(Site& site, const RedirectRule& rule, const http::Request& request, Response& out) {
    const std::string location = Redirects::location(rule, request.path, request.has_query, request.query);
    error(site, rule.status, request.method == http::Method::Head, out);
    out.fields.add("Location", location);
}

// Answers from path_ (a file, a directory's index or listing, a redirect to the
// directory) and returns 0, or returns the error status to answer with.
std::uint16_t StaticHandler::resolve(const Lookup& lookup, Response& out) {
    Site& site = lookup.site;
    if (site.cache.enabled()) {
        // "/docs" (a redirect) and "/docs/" (its index) are different answers.
        key_.assign(path_.path);
        if (path_.trailing_slash && path_.path.size() > 1) key_.push_back('/');
        key_.push_back('\0');
        const http::CodingPreference& siblings = lookup.sibling_codings();
        for (std::size_t i = 0; i < siblings.count; ++i) key_.push_back(siblings.order[i].suffix[1]);
        if (auto hit = site.cache.find(key_, lookup.now_ms)) {
            counters_.file_cache_hits.add();
            serve(lookup, std::move(hit), out);
            return 0;
        }
    }
    counters_.file_cache_misses.add();

    Located found = lookup.locate(path_.relative().data());
    if (!found.fd) return open_failed(found.error, path_.relative().data());
    if (S_ISDIR(found.st.st_mode)) {
        if (!path_.trailing_slash)
            redirect_to_directory(lookup, out);
        else
            resolve_directory(lookup, std::move(found.fd), out);
        return 0;
    }
    if (!S_ISREG(found.st.st_mode)) return 403;  // FIFO, device, socket
    if (path_.trailing_slash) return 404;        // "/file.html/" names no directory
    resolve_regular(lookup, std::move(found), path_.relative(), out);
    return 0;
}

// `name` is the file's path relative to the root and `found` the regular file open on
// it; a precompressed sibling the client accepts replaces it.
void StaticHandler::resolve_regular(const Lookup& lookup, Located found, std::string_view name, Response& out) {
    const std::string_view type_name = last_segment(name);
    std::shared_ptr<CachedFile> file;
    if (!name.ends_with(".br") && !name.ends_with(".gz") && !name.ends_with(".zst")) {
        const http::CodingPreference& siblings = lookup.sibling_codings();
        for (std::size_t i = 0; i < siblings.count && !file; ++i) {
            const http::CodingChoice& choice = siblings.order[i];
            sibling_path_.assign(name).append(choice.suffix);
            Located sibling = lookup.locate(sibling_path_.c_str());
            if (!sibling.fd || !S_ISREG(sibling.st.st_mode)) continue;
            file = load(lookup.site, std::move(sibling.fd), sibling.st, type_name, http::coding_token(choice.coding),
                        lookup.now_ms);
        }
    }
    if (!file) file = load(lookup.site, std::move(found.fd), found.st, type_name, {}, lookup.now_ms);
    lookup.site.cache.insert(key_, file);
    serve(lookup, std::move(file), out);
}

void StaticHandler::resolve_directory(const Lookup& lookup, UniqueFd dir, Response& out) {
    for (const std::string& name : lookup.site.options.index) {
        std::string relative(path_.path.size() > 1 ? std::string_view(path_.path).substr(1) : std::string_view());
        if (!relative.empty()) relative.push_back('/');
        relative.append(name);
        Located index = lookup.locate(relative.c_str());
        if (!index.fd) {
            if (index.error == ENOENT) continue;
            return error(lookup.site, open_failed(index.error, relative.c_str()), lookup.head_only(), out);
        }
        if (!S_ISREG(index.st.st_mode)) continue;
        return resolve_regular(lookup, std::move(index), relative, out);
    }
    if (lookup.site.options.directory_listing) return serve_listing(lookup, dir.get(), out);
    error(lookup.site, 403, lookup.head_only(), out);  // a directory without an index is not listed unless configured
}

// Everything about a file that does not change from one response to the next.
std::shared_ptr<CachedFile> StaticHandler::load(Site& site, UniqueFd fd, const struct stat& st,
                                                std::string_view type_name, std::string_view encoding,
                                                std::int64_t now_ms) {
    const ServeOptions& options = site.options;
    auto file = std::make_shared<CachedFile>();
    file->fd = std::move(fd);
    file->facts = FileFacts::from(st);
    std::optional<ETag> from_content;
    if (options.etag_from_content) from_content = site.content_tags.tag(file->fd.get(), st);
    file->etag = from_content                ? *from_content
                 : options.etag_from_content ? ContentTags::metadata_tag(st)  // too large to hash
                                             : make_etag(file->facts);
    file->type = mime_.lookup(type_name);
    file->encoding = encoding;
    file->checked_ms = now_ms;
    file->version = FileVersion::from(st);
    file->compressible = encoding.empty() && options.compression.applies_to(file->type, file->facts.size);
    file->validators.add_date("Last-Modified", file->facts.mtime);
    file->validators.add("ETag", file->etag.view());
    if (options.precompressed || file->compressible) file->validators.add("Vary", "Accept-Encoding");
    file->expires_seconds = options.header_rules.write(path_.path, path_.trailing_slash, type_name, file->validators);
    file->ok_fields.add("Content-Type", file->type);
    if (!encoding.empty()) file->ok_fields.add("Content-Encoding", encoding);
    file->ok_fields.add("Content-Length", file->facts.size);
    file->ok_fields.add_all(file->validators);
    file->ok_fields.add("Accept-Ranges", "bytes");
    file->ok_fields.add("X-Content-Type-Options", "nosniff");
    if (file->facts.size <= options.small_file)
        file->in_memory = read_whole(file->fd.get(), file->facts.size, file->body);
    return file;
}

void StaticHandler::serve_listing(const Lookup& lookup, int dir_fd, Response& out) {
    if (!render_directory_listing(dir_fd, path_.path == "/" ? "/" : path_.path + "/", out.parts))
        return error(lookup.site, 403, lookup.head_only(), out);
    start(200, out);
    out.fields.add("Content-Type", "text/html; charset=utf-8");
    out.fields.add("Content-Length", out.parts.size());
    out.fields.add("Cache-Control", "no-cache");
    if (!lookup.head_only()) add_memory(out, out.parts);
}

void StaticHandler::redirect_to_directory(const Lookup& lookup, Response& out) {
    // Built from the normalised path, never the raw one: "//host/.." would otherwise be a
    // scheme-relative reference to another site. A normalised path starts with exactly
    // one '/', and percent-encoding keeps every byte of it inside the path component.
    std::string location;
    append_percent_encoded(path_.path, location);
    location.push_back('/');
    const http::Request& request = lookup.request;
    if (request.has_query) location.append("?").append(request.query);  // URI characters only (parser)
    error(lookup.site, 301, lookup.head_only(), out);
    out.fields.add("Location", location);
}

// The port is replaced, not kept: "example.com:8080" on the plain listener means
// nothing for HTTPS. A bracketed IPv6 literal keeps its brackets.
void StaticHandler::redirect_to_https(Site& site, const http::Request& request, std::uint16_t https_port,
                                      std::int64_t now_ms, Response& out) {
    // Judged on the normalised path: "/.well-known/acme-challenge/../x" is not a challenge.
    if (request.path.starts_with('/') && normalize_path(request.path, path_) == PathError::None &&
        path_.path.starts_with("/.well-known/acme-challenge/"))
        return handle(site, request, now_ms, out);
    const bool head_only = request.method == http::Method::Head;
    const std::optional<std::string_view> host = http::host_of(request.authority);
    if (!host) return error(site, 400, head_only, out);  // none, or none a URL can carry
    std::string location = "https://";
    location.append(*host);
    if (https_port != 443) location.append(":").append(std::to_string(https_port));
    // The path as received (percent-encoded; "OPTIONS *" and CONNECT have none: the root).
    location.append(request.asterisk || request.path.empty() ? std::string_view("/") : request.path);
    if (request.has_query) location.append("?").append(request.query);
    error(site, 308, head_only, out);
    out.fields.add("Location", location);
}

void StaticHandler::plain_http_on_tls_port(Response& out) const {
    const std::string_view body = pages_.plain_http_on_tls_port();
    start(400, out);
    out.fields.add("Content-Type", "text/html; charset=utf-8");
    out.fields.add("Content-Length", body.size());
    add_memory(out, body);
}

void StaticHandler::add_body_range(const CachedFile& file, std::uint64_t offset, std::uint64_t length,
                                   Response& out) const {
    if (length == 0) return;
    if (file.in_memory)
        add_memory(out, std::string_view(file.body).substr(offset, length));
    else
        out.segments.push_back({nullptr, offset, length});
}

// A file the client may have compressed gets the best coding both sides allow, made on
// the fly; a request for a range is answered from the file itself (its byte positions
// are the ones a client resuming a download knows), and so is any file a coding could
// not be made for.
void StaticHandler::serve(const Lookup& lookup, std::shared_ptr<const CachedFile> file, Response& out) {
    if (file->compressible && !lookup.request.range) {
        const CompressionOptions& compression = lookup.site.options.compression;
        for (std::size_t i = 0; i < lookup.accepted.count; ++i) {
            const http::Coding coding = lookup.accepted.order[i].coding;
            if (!compression.allows(coding)) continue;
            if (serve_compressed(lookup, file, coding, out)) return;
            break;
        }
    }
    serve_file(lookup, std::move(file), out);
}

// Answers with the compressed variant: from the worker's cache, made now when the file
// is at most one slice (as much work as one step of a stream), or made while it is sent
// (a BodyStream; no Content-Length). False, with `out` untouched, if it is not made now
// (see below) or cannot be: the file is sent as it is.
bool StaticHandler::serve_compressed(const Lookup& lookup, std::shared_ptr<const CachedFile>& file, http::Coding coding,
                                     Response& out) {
    const VariantFields& variant = variant_fields(*file, coding);
    const auto outcome = http::decide(lookup.request, file->facts, variant.etag, 0, out.ranges);
    if (outcome == http::Outcome::PreconditionFailed) {
        error(lookup.site, 412, lookup.head_only(), out);
        return true;
    }
    if (outcome == http::Outcome::NotModified) {
        start(304, out);
        out.shared.push_back(&variant.validators);
        HeaderRules::write_expires(file->expires_seconds, date_.now(), out.fields);
        hold(std::move(file), out);
        return true;
    }
    CompressionCache::Bytes bytes = compressed_.find(file->version, coding);
    (bytes ? counters_.compression_cache_hits : counters_.compression_cache_misses).add();
    const bool small = file->facts.size <= EncodingStream::kSlice;
    if (!bytes) {
        // Not made yet. A small file is made now while this turn's allowance lasts; past
        // it, and for a larger file, while it is sent, within the worker's steps per turn:
        // a burst waits its turns instead of holding the worker, and still gets the
        // coding. Past the stream caps the file goes as it is. A HEAD makes nothing.
        if (small ? small_streams_in_flight_ >= kMaxSmallStreams : streams_in_flight_ >= kMaxStreams) return false;
        if (small && compress_now_left_ > 0 && !lookup.head_only()) {
            bytes = compress_now(*file, coding);
            if (!bytes) return false;
        } else if (small && !lookup.request.body_may_stream) {
            return false;  // HTTP/1.0 would lose its keep-alive for a body of unknown length
        }
    }
    start(200, out);
    out.shared.push_back(&variant.ok_fields);
    if (bytes) {
        out.fields.add("Content-Length", bytes->size());
        if (!lookup.head_only()) add_memory(out, *bytes);
        out.holds_body = std::move(bytes);
    } else if (!lookup.head_only()) {
        out.stream = std::make_shared<EncodingStream>(file, file->fd.get(), file->version, coding, &compressed_,
                                                      small ? &small_streams_in_flight_ : &streams_in_flight_);
    }
    HeaderRules::write_expires(file->expires_seconds, date_.now(), out.fields);
    hold(std::move(file), out);
    return true;
}

CompressionCache::Bytes StaticHandler::compress_now(const CachedFile& file, http::Coding coding) {
    --compress_now_left_;
    std::string read;
    if (!file.in_memory && !read_whole(file.fd.get(), file.facts.size, read)) return nullptr;  // changing under us
    auto bytes = std::make_shared<std::string>();
    if (!compress_whole(coding, file.in_memory ? std::string_view(file.body) : std::string_view(read), *bytes)) {
        log_.error("compressing a response failed: {}", http::coding_token(coding));
        return nullptr;
    }
    compressed_.insert(file.version, coding, bytes);
    return bytes;
}

// The file's fields with the variant's ETag (W/"<file's tag>-<coding>") and Content-Encoding.
const VariantFields& StaticHandler::variant_fields(const CachedFile& file, http::Coding coding) const {
    std::unique_ptr<const VariantFields>& slot = file.variants[static_cast<std::size_t>(coding)];
    if (slot) return *slot;
    auto variant = std::make_unique<VariantFields>();
    const std::string_view token = http::coding_token(coding);
    const std::string_view opaque = file.etag.opaque();
    const int n =
        std::snprintf(variant->etag.text, sizeof variant->etag.text, "W/\"%.*s-%.*s\"", static_cast<int>(opaque.size()),
                      opaque.data(), static_cast<int>(token.size()), token.data());
    variant->etag.length = std::min(static_cast<std::size_t>(n), sizeof variant->etag.text - 1);
    variant->etag.weak = true;
    for (std::size_t i = 0; i < file.validators.size(); ++i) {
        const http::Header field = file.validators[i];
        variant->validators.add(field.name, iequals(field.name, "ETag") ? variant->etag.view() : field.value);
    }
    variant->ok_fields.add("Content-Type", file.type);
    variant->ok_fields.add("Content-Encoding", token);
    variant->ok_fields.add_all(variant->validators);
    variant->ok_fields.add("X-Content-Type-Options", "nosniff");
    slot = std::move(variant);
    return *slot;
}

void StaticHandler::serve_file(const Lookup& lookup, std::shared_ptr<const CachedFile> file, Response& out) {
    const auto outcome =
        http::decide(lookup.request, file->facts, file->etag, lookup.site.options.max_ranges, out.ranges);
    switch (outcome) {
    case http::Outcome::PreconditionFailed: return error(lookup.site, 412, lookup.head_only(), out);
    case http::Outcome::RangeNotSatisfiable: {
        error(lookup.site, 416, lookup.head_only(), out);
        char range[32] = "bytes */";  // RFC 9110 §15.5.17
        const auto end = std::to_chars(range + 8, range + sizeof range, file->facts.size).ptr;
        return out.fields.add("Content-Range", std::string_view(range, static_cast<std::size_t>(end - range)));
    }
    case http::Outcome::NotModified:
        // §15.4.5: a 304 carries what a 200 would in ETag, Cache-Control, Expires, Vary.
        start(304, out);
        out.shared.push_back(&file->validators);
        HeaderRules::write_expires(file->expires_seconds, date_.now(), out.fields);
        return hold(std::move(file), out);
    case http::Outcome::Whole:
        start(200, out);
        out.shared.push_back(&file->ok_fields);
        if (!lookup.head_only()) add_body_range(*file, 0, file->facts.size, out);
        break;
    case http::Outcome::Partial: {
        start(206, out);
        out.shared.push_back(&file->validators);
        if (out.ranges.size() == 1) {
            const http::ByteRange& r = out.ranges.front();
            out.fields.add("Content-Type", file->type);
            out.fields.add_content_range(r.first, r.last, file->facts.size);
            add_body_range(*file, r.first, r.length(), out);
        } else {
            out.fields.add("Content-Type", multipart_type_);
            add_multipart(*file, out);
        }
        if (!file->encoding.empty()) out.fields.add("Content-Encoding", file->encoding);
        std::uint64_t length = 0;
        for (const BodySegment& segment : out.segments) length += segment.length;
        out.fields.add("Content-Length", length);
        out.fields.add("Accept-Ranges", "bytes");
        out.fields.add("X-Content-Type-Options", "nosniff");
        break;  // only GET gets here: Range is defined for GET alone (RFC 9110 §14.2)
    }
    }
    HeaderRules::write_expires(file->expires_seconds, date_.now(), out.fields);
    hold(std::move(file), out);
}

void StaticHandler::add_multipart(const CachedFile& file, Response& out) const {
    // Segments point into out.parts as it grows, so reserve what it can reach first:
    // within capacity, appending never moves the characters.
    const std::size_t per_part = boundary_.size() + file.type.size() + 32 + 20 + 3 * 20 + 8;
    out.parts.reserve(out.ranges.size() * per_part + boundary_.size() + 8);
    char range[68];
    for (const http::ByteRange& r : out.ranges) {
        const std::size_t start = out.parts.size();
        out.parts.append("\r\n--").append(boundary_).append("\r\nContent-Type: ").append(file.type);
        out.parts.append("\r\nContent-Range: ")
            .append(range, http::format_content_range(r.first, r.last, file.facts.size, range))
            .append("\r\n\r\n");
        add_memory(out, std::string_view(out.parts).substr(start));
        add_body_range(file, r.first, r.length(), out);
    }
    const std::size_t closing = out.parts.size();
    out.parts.append("\r\n--").append(boundary_).append("--\r\n");
    add_memory(out, std::string_view(out.parts).substr(closing));
}

}  // namespace pywebd
