#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "listen_address.hpp"
#include "log.hpp"

namespace pywebd {

using Millis = std::chrono::milliseconds;

struct Limits {
    std::size_t max_head_bytes = 16 * 1024;    // request line + header fields
    std::size_t max_headers = 100;             // header field lines
    std::size_t max_uri_bytes = 8 * 1024;      // request-target
    std::size_t max_connections = 10000;       // per worker
    std::size_t max_body_discard = 64 * 1024;  // a larger request body closes the connection
    std::size_t max_ranges = 16;               // byte ranges per request after merging; more → 200
};

// The per-worker cache of open files (FileCache).
struct CacheConfig {
    std::size_t entries = 1000;          // 0 disables it
    Millis valid{1000};                  // an entry is trusted this long after it was opened
    std::size_t small_file = 16 * 1024;  // files up to this size are kept in memory
    std::size_t compressed = 32 << 20;   // bytes of compressed variants each worker keeps (0: none kept)
};

// Compression on the fly (`compression`): which codings, for which media types, from
// which size. `enabled` false is `compression: off`.
struct CompressionSettings {
    bool enabled = true;
    bool br = true, zstd = true, gzip = true;
    // Media types without parameters; "text/*" stands for every subtype.
    std::vector<std::string> types = {"text/*",
                                      "application/javascript",
                                      "application/json",
                                      "application/ld+json",
                                      "application/manifest+json",
                                      "application/xml",
                                      "application/xhtml+xml",
                                      "application/rss+xml",
                                      "application/atom+xml",
                                      "application/wasm",
                                      "image/svg+xml",
                                      "image/x-icon",
                                      "image/vnd.microsoft.icon",
                                      "image/bmp",
                                      "font/ttf",
                                      "font/otf",
                                      "application/vnd.ms-fontobject"};
    std::size_t min_size = 256;  // smaller files gain nothing worth a coding
};

struct Timeouts {
    Millis header{10000};     // from the first byte of a request to its complete head
    Millis keepalive{15000};  // idle between requests
    Millis send{30000};       // without any progress while sending a response
    Millis shutdown{10000};   // graceful stop: longest drain before workers are killed
    Millis linger{5000};      // reading what a client still sends after we closed our side
};

// Response fields for the files a rule matches: by path prefix, by extension, or both.
struct HeaderRule {
    std::string path_prefix;  // "/assets/"; empty matches any path
    std::string extension;    // "css" (lower case, no dot); empty matches any file
    std::optional<std::string> cache_control;
    std::optional<Millis> expires;                            // Expires = response time + this
    std::vector<std::pair<std::string, std::string>> fields;  // added verbatim
};

// A redirect the operator configured: requests for `from` (or, as a prefix, anything
// under it) answered with `status` and a Location of `to` (the rest of the path after
// the prefix appended; the query kept or dropped).
struct RedirectRule {
    std::string from;  // a path as received ("/old"); for a prefix without its '*'
    bool prefix = false;
    std::string to;  // "/new", "/new/" or "https://example.org/…"
    std::uint16_t status = 301;
    bool keep_query = true;
};

// One certificate chain and its key (PEM), with an optional OCSP response (DER) to staple.
struct TlsCertificate {
    std::filesystem::path certificate;
    std::filesystem::path key;
    std::filesystem::path ocsp_response;  // empty: no stapling
    std::string origin;                   // file:line:col of the entry, for late errors
};

// HTTPS: the certificates and how connections are secured. The defaults are Mozilla's
// "intermediate": TLS 1.2 and 1.3, ECDHE with AEAD ciphers only.
struct TlsSettings {
    std::vector<TlsCertificate> certificates;
    std::vector<std::string> protocols = {"TLSv1.2", "TLSv1.3"};
    std::string ciphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
    // TLS 1.3 suites (all AEAD), in the server's order of preference.
    std::string ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384";
    std::string groups = "X25519:P-256";
    bool session_tickets = true;
    Millis ticket_rotation{3'600'000};  // a new ticket key this often; the previous one still decrypts
    bool ktls = true;                   // use kernel TLS where the kernel offers it (ktls: auto)
    bool log_protocol = false;          // the access log adds the TLS protocol and cipher
};

// HTTP/2 (h2 on TLS listeners, h2c where a plain listener allows it): what the server
// advertises in its SETTINGS and holds clients to.
struct Http2Settings {
    std::uint32_t max_concurrent_streams = 100;
    std::size_t max_header_list_size = 16 * 1024;        // decoded request fields, as RFC 9113 counts them
    std::uint32_t header_table_size = 4096;              // the HPACK table a client may make us keep
    std::uint32_t initial_window_size = 65535;           // request body bytes a stream may send unacknowledged
    std::uint32_t max_control_frames_per_second = 1000;  // of each kind; more is a flood: GOAWAY
};

// The immutable result of loading and validating a configuration. Workers receive it
// at fork; it is never global.
// What to do with a request whose Host names none of the `sites`.
enum class UnknownHost { Serve, Misdirected, NotFound };  // the top-level site, 421, 404

struct Config {
    std::string source = "built-in defaults";  // the file it came from
    std::uint16_t port = 8888;
    std::vector<ListenAddress> listen;  // empty: every IPv4 and IPv6 address on `port`
    int backlog = 511;
    // The admin listener (/metrics, /healthz): off when absent; loopback unless the
    // operator says `public: true`.
    std::optional<ListenAddress> admin;
    std::filesystem::path root = "static";  // absolute once validated
    unsigned workers = 0;                   // 0 = one per CPU
    std::vector<std::string> index = {"index.html"};
    bool serve_dotfiles = false;
    bool serve_well_known = true;  // /.well-known/ (RFC 8615) even when dotfiles are not served
    bool server_tokens = true;
    std::string charset = "utf-8";  // added to text types; empty = none
    std::filesystem::path mime_types = "/etc/mime.types";
    bool precompressed = true;                         // serve x.br / x.gz beside x to clients that accept them
    bool directory_listing = false;                    // list a directory that has no index file
    std::map<std::uint16_t, std::string> error_pages;  // status → path under the root
    std::vector<HeaderRule> headers;
    // A missing path (not an asset) is answered with this file, 200 (a single-page app);
    // empty: off.
    std::string fallback;
    std::vector<std::string> asset_extensions = {"js",   "mjs", "css",  "map",  "json", "wasm", "png",  "jpg",
                                                 "jpeg", "gif", "webp", "avif", "svg",  "ico",  "woff", "woff2",
                                                 "ttf",  "otf", "txt",  "xml",  "pdf",  "zip",  "mp4",  "webm"};
    bool etag_from_content = false;  // etag: content (else metadata: inode, size, mtime)
    CompressionSettings compression;
    std::vector<RedirectRule> redirects;
    std::optional<RedirectRule> site_redirect;  // `redirect`: every request, to another origin
    // Virtual hosts: each a Config of its own whose site keys (root, index, headers …)
    // start from the top level's and whose `names` it answers (exact, or "*.example.org"
    // for any name under it). The top-level keys are the default site.
    std::vector<Config> sites;
    std::vector<std::string> names;  // of a site: lower case, no port, no trailing dot
    std::string label;               // "sites[2]." for a site, for its error messages; "" at the top
    UnknownHost unknown_host = UnknownHost::Serve;
    std::string user;  // empty: unchanged; as root that is refused (name one, or "root" explicitly)
    std::string group;
    std::filesystem::path access_log;  // empty = off
    std::string error_log = "stderr";  // "stderr" or a path
    LogLevel log_level = LogLevel::Notice;
    Limits limits;
    Timeouts timeouts;
    CacheConfig cache;
    TlsSettings tls;
    Http2Settings http2;
    // Things worth telling the operator that do not stop the server (a certificate about
    // to expire, a key file others may read), found by validate().
    std::vector<std::string> warnings;
    // Where each key was set ("file:line:col", "--root"), so that errors found later
    // (a missing root, an unknown user) still point at the line to fix.
    std::map<std::string, std::string, std::less<>> origins;
    std::int64_t load_us = 0;  // how long reading and checking it took (a metric)

    std::string origin(std::string_view key) const;

    // The listen addresses actually used: `listen`, or the wildcard pair, with `port`
    // filled in where an entry has none.
    std::vector<ListenAddress> effective_listen() const;
    unsigned effective_workers() const;
    bool uses_tls() const;  // some listen address speaks TLS
};

// Every problem found in a configuration, each one line: "file:line:col: key: message".
class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(std::vector<std::string> errors);
    const std::vector<std::string>& errors() const { return errors_; }

private:
    std::vector<std::string> errors_;
};

// Reads and checks a YAML file; relative paths in it resolve against its directory.
// Throws ConfigError listing every problem.
Config load_config_file(const std::filesystem::path& file);

// Checks what can only be checked once command-line overrides are applied (the root
// directory exists, ...) and makes paths absolute. Throws ConfigError.
void validate(Config& config);

}  // namespace pywebd
