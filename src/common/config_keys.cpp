#include "config_keys.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <limits>
#include <thread>

#include "config_values.hpp"
#include "redirect_config.hpp"
#include "strings.hpp"

namespace pywebd {
namespace {

std::string scalar(const YAML::Node& node) {
    if (!node.IsScalar()) throw ValueError("expected a single value, not a list or a map");
    return node.Scalar();
}

std::size_t count_in(const YAML::Node& node, std::size_t min, std::size_t max) {
    const std::string text = scalar(node);
    std::size_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
        throw ValueError(fmt::format("expected a whole number, got '{}'", text));
    if (value < min || value > max) throw ValueError(fmt::format("must be from {} to {}, got {}", min, max, value));
    return value;
}

std::size_t bytes_in(const YAML::Node& node, std::size_t min, std::size_t max) {
    const std::string text = scalar(node);
    const auto value = parse_bytes(text);
    if (!value) throw ValueError(fmt::format("expected a size such as 4096, 16KiB or 1MiB, got '{}'", text));
    if (*value < min || *value > max)
        throw ValueError(fmt::format("must be from {} to {} bytes, got {}", min, max, *value));
    return *value;
}

Millis duration_in(const YAML::Node& node, Millis min, Millis max) {
    const std::string text = scalar(node);
    const auto value = parse_duration(text);
    if (!value) throw ValueError(fmt::format("expected a duration such as 10s, 500ms or 2m, got '{}'", text));
    if (*value < min || *value > max)
        throw ValueError(fmt::format("must be from {}ms to {}ms, got {}ms", min.count(), max.count(), value->count()));
    return *value;
}

bool bool_in(const YAML::Node& node) {
    const std::string text = scalar(node);
    const auto value = parse_bool(text);
    if (!value) throw ValueError(fmt::format("expected true or false, got '{}'", text));
    return *value;
}

std::vector<std::string> strings_in(const YAML::Node& node) {
    if (node.IsScalar()) return {node.Scalar()};
    if (!node.IsSequence()) throw ValueError("expected a list of strings");
    std::vector<std::string> out;
    for (const YAML::Node& item : node) out.push_back(scalar(item));
    return out;
}

std::filesystem::path path_in(const YAML::Node& node, const KeyContext& context) {
    const std::string text = scalar(node);
    if (text.empty()) throw ValueError("expected a path, got an empty value");
    if (text.find('\0') != std::string::npos) throw ValueError("path contains a NUL byte");
    const std::filesystem::path path(text);
    return path.is_absolute() ? path : context.base_dir / path;
}

// `compression: off`, or a map of codings, types and min_size (each optional).
CompressionSettings compression_in(const YAML::Node& node) {
    CompressionSettings settings;
    if (node.IsScalar()) {
        const auto on = parse_bool(node.Scalar());
        if (node.Scalar() == "off" || (on && !*on)) {
            settings.enabled = false;
            return settings;
        }
        if (node.Scalar() == "on" || on) return settings;
        throw ValueError(
            fmt::format("expected off, or a map with codings, types and min_size; got '{}'", node.Scalar()));
    }
    if (node.IsNull()) return settings;
    if (!node.IsMap()) throw ValueError("expected off, or a map with codings, types and min_size");
    for (const auto& entry : node) {
        const std::string key = scalar(entry.first);
        const YAML::Node& value = entry.second;
        if (key == "codings") {
            settings.br = settings.zstd = settings.gzip = false;
            if (!value.IsSequence() || value.size() == 0)
                throw ValueError("expected a list of codings: br, zstd, gzip", value.Mark());
            for (const YAML::Node& item : value) {
                const std::string coding = scalar(item);
                bool& on = coding == "br" ? settings.br : coding == "zstd" ? settings.zstd : settings.gzip;
                if (coding != "br" && coding != "zstd" && coding != "gzip")
                    throw ValueError(fmt::format("'{}' is not a coding pywebd makes (br, zstd, gzip)", coding),
                                     item.Mark());
                if (on) throw ValueError(fmt::format("'{}' is listed twice", coding), item.Mark());
                on = true;
            }
        } else if (key == "types") {
            settings.types.clear();
            if (!value.IsSequence()) throw ValueError("expected a list of media types such as text/*", value.Mark());
            for (const YAML::Node& item : value) {
                std::string type = scalar(item);
                for (char& ch : type) ch = ascii_lower(ch);
                const auto slash = type.find('/');
                const bool valid =
                    slash != std::string::npos && slash > 0 && slash + 1 < type.size() &&
                    type.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789!#$&^_.+-/*") == std::string::npos &&
                    type.find('/', slash + 1) == std::string::npos &&
                    (type.find('*') == std::string::npos || (type.substr(slash) == "/*" && type.find('*') > slash));
                if (!valid)
                    throw ValueError(fmt::format("'{}' is not a media type such as text/css or text/*", scalar(item)),
                                     item.Mark());
                settings.types.push_back(std::move(type));
            }
        } else if (key == "min_size") {
            try {
                settings.min_size = bytes_in(value, 0, std::size_t{1} << 30);
            } catch (const ValueError& error) {
                throw ValueError(error.what(), value.Mark());
            }
        } else {
            throw ValueError(fmt::format("unknown key '{}' (codings, types, min_size)", key), entry.first.Mark());
        }
    }
    return settings;
}

// A user or group name as useradd accepts it; empty means "unchanged".
std::string account_name_in(const YAML::Node& node) {
    std::string text = scalar(node);
    if (text.size() > 32 || text.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != std::string::npos)
        throw ValueError(fmt::format("'{}' is not a valid user or group name", text));
    return text;
}

// A field name as RFC 9110 §5.1 allows (a token), not one the server owns.
std::string field_name_in(const YAML::Node& node) {
    const std::string name = scalar(node);
    constexpr std::string_view kTchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if (name.empty() || name.find_first_not_of(kTchar) != std::string::npos)
        throw ValueError(fmt::format("'{}' is not a valid header field name", name), node.Mark());
    const std::string lower = to_lower(name);
    for (std::string_view owned :
         {"content-length", "transfer-encoding", "connection", "content-range", "date", "server", "content-type",
          "content-encoding", "etag", "last-modified", "accept-ranges", "location", "keep-alive", "upgrade", "vary"})
        if (lower == owned) throw ValueError(fmt::format("'{}' is set by the server itself", name), node.Mark());
    return name;
}

// A field value: visible characters, spaces and tabs only (no CR, LF or NUL).
std::string field_value_in(const YAML::Node& node) {
    const std::string value = scalar(node);
    for (const char c : value) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte < 0x20 && c != '\t') || byte == 0x7F)
            throw ValueError("header values may not hold control characters", node.Mark());
    }
    return value;
}

HeaderRule header_rule_in(const YAML::Node& node) {
    if (!node.IsMap()) throw ValueError("each rule is a map with path and/or extension", node.Mark());
    HeaderRule rule;
    for (const auto& entry : node) {
        const std::string key = scalar(entry.first);
        const YAML::Node& value = entry.second;
        if (key == "path") {
            rule.path_prefix = scalar(value);
            if (!rule.path_prefix.starts_with('/')) throw ValueError("path must start with '/'", value.Mark());
        } else if (key == "extension") {
            rule.extension = to_lower(scalar(value));
            if (rule.extension.starts_with('.')) rule.extension.erase(0, 1);
            if (rule.extension.empty() || rule.extension.find('/') != std::string::npos)
                throw ValueError("extension must be a file extension such as css", value.Mark());
        } else if (key == "cache_control") {
            rule.cache_control = field_value_in(value);
        } else if (key == "expires") {
            const auto duration = parse_duration(scalar(value));
            if (!duration) throw ValueError("expires takes a duration such as 1h or 7d", value.Mark());
            rule.expires = *duration;
        } else if (key == "add") {
            if (!value.IsMap()) throw ValueError("add is a map of field name to value", value.Mark());
            for (const auto& field : value)
                rule.fields.emplace_back(field_name_in(field.first), field_value_in(field.second));
        } else {
            throw ValueError(fmt::format("unknown rule key '{}' (path, extension, cache_control, expires, add)", key),
                             entry.first.Mark());
        }
    }
    if (rule.path_prefix.empty() && rule.extension.empty())
        throw ValueError("a rule needs path or extension", node.Mark());
    return rule;
}

// Runs `parse`, pointing an error without a position of its own at `node`.
template <typename Parse>
auto at(const YAML::Node& node, Parse&& parse) {
    try {
        return parse();
    } catch (const ValueError& e) {
        if (e.mark()) throw;
        throw ValueError(e.what(), node.Mark());
    }
}

// A listen entry: "ADDR[:PORT]", or a mapping {address: …, tls: true[, h2: false]} /
// {address: …, redirect_to_https: true, https_port: 8443} / {address: …, h2c: true}.
ListenAddress listen_entry_in(const YAML::Node& node) {
    auto address_in = [](const YAML::Node& value) {
        std::string error;
        auto address = parse_listen_address(scalar(value), error);
        if (!address) throw ValueError(error);
        return *address;
    };
    if (node.IsScalar()) return at(node, [&] { return address_in(node); });
    if (!node.IsMap()) throw ValueError("each entry is an address or a map with address and tls", node.Mark());
    std::optional<ListenAddress> address;
    bool tls = false, redirect = false;
    std::optional<bool> h2, h2c;
    std::optional<std::uint16_t> https_port;
    for (const auto& entry : node) {
        const std::string key = scalar(entry.first);
        const YAML::Node& value = entry.second;
        if (key == "address")
            address = at(value, [&] { return address_in(value); });
        else if (key == "tls")
            tls = at(value, [&] { return bool_in(value); });
        else if (key == "redirect_to_https")
            redirect = at(value, [&] { return bool_in(value); });
        else if (key == "https_port")
            https_port = at(value, [&] { return static_cast<std::uint16_t>(count_in(value, 1, 65535)); });
        else if (key == "h2")
            h2 = at(value, [&] { return bool_in(value); });
        else if (key == "h2c")
            h2c = at(value, [&] { return bool_in(value); });
        else
            throw ValueError(
                fmt::format("unknown key '{}' (address, tls, h2, h2c, redirect_to_https, https_port)", key),
                entry.first.Mark());
    }
    if (!address) throw ValueError("a listen map needs an address", node.Mark());
    if (tls && redirect) throw ValueError("a TLS listener cannot redirect to HTTPS: it is HTTPS", node.Mark());
    if (https_port && !redirect) throw ValueError("https_port goes with redirect_to_https: true", node.Mark());
    if (h2.value_or(false) && !tls)
        throw ValueError("h2 is for TLS listeners (tls: true); plain ones take h2c", node.Mark());
    if (h2c.value_or(false) && tls)
        throw ValueError("h2c is for plain listeners; a TLS listener offers HTTP/2 with h2", node.Mark());
    if (h2c.value_or(false) && redirect)
        throw ValueError("a listener that redirects to HTTPS cannot also speak h2c", node.Mark());
    address->h2 = h2.value_or(true);
    address->h2c = h2c.value_or(false);
    address->tls = tls;
    address->redirect_to_https = redirect;
    if (https_port) address->https_port = *https_port;
    return *address;
}

// The admin listener: "ADDR:PORT" on a loopback address, or {address: …, public: true}
// for any other (a pod's address, say), so that counters and health are never published
// by accident.
ListenAddress admin_in(const YAML::Node& node) {
    std::optional<ListenAddress> address;
    bool public_ok = false;
    auto address_in = [](const YAML::Node& value) {
        std::string error;
        auto parsed = parse_listen_address(scalar(value), error);
        if (!parsed) throw ValueError(error, value.Mark());
        if (!parsed->has_port)
            throw ValueError(fmt::format("'{}': the admin listener needs a port, as 127.0.0.1:9145", value.Scalar()),
                             value.Mark());
        return *parsed;
    };
    if (node.IsScalar()) {
        address = address_in(node);
    } else if (node.IsMap()) {
        for (const auto& entry : node) {
            const std::string key = scalar(entry.first);
            if (key == "address")
                address = address_in(entry.second);
            else if (key == "public")
                public_ok = at(entry.second, [&] { return bool_in(entry.second); });
            else
                throw ValueError(fmt::format("unknown key '{}' (address, public)", key), entry.first.Mark());
        }
        if (!address) throw ValueError("an admin map needs an address", node.Mark());
    } else {
        throw ValueError("expected ADDR:PORT, off, or {address: ADDR:PORT, public: true}", node.Mark());
    }
    if (!public_ok && !address->is_loopback())
        throw ValueError(fmt::format("'{}' is not a loopback address: metrics and health would be public; write "
                                     "127.0.0.1:{}, or {{address: \"{}\", public: true}} if that is meant",
                                     address->to_string(), address->port, address->to_string()),
                         node.Mark());
    address->admin = true;
    address->h2 = false;
    return *address;
}

TlsCertificate certificate_in(const YAML::Node& node, const KeyContext& context) {
    if (!node.IsMap()) throw ValueError("each certificate is a map with certificate and key", node.Mark());
    TlsCertificate out;
    for (const auto& entry : node) {
        const std::string key = scalar(entry.first);
        const YAML::Node& value = entry.second;
        auto path = [&] { return at(value, [&] { return path_in(value, context); }); };
        if (key == "certificate")
            out.certificate = path();
        else if (key == "key")
            out.key = path();
        else if (key == "ocsp_response")
            out.ocsp_response = path();
        else
            throw ValueError(fmt::format("unknown key '{}' (certificate, key, ocsp_response)", key),
                             entry.first.Mark());
    }
    if (out.certificate.empty() || out.key.empty())
        throw ValueError("a certificate entry needs both certificate and key", node.Mark());
    out.origin = fmt::format("{}:{}:{}", context.file.string(), node.Mark().line + 1, node.Mark().column + 1);
    return out;
}

constexpr Millis kMaxTimeout{24 * 3600 * 1000};

const std::array
    kKeys =
        std::to_array<ConfigKey>(
            {
                {"port", "8888", "TCP port for every listen address that does not name its own",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.port = static_cast<std::uint16_t>(count_in(n, 0, 65535));
                 }},
                {"listen", "[\"0.0.0.0\", \"[::]\"]",
                 "numeric addresses to bind, each ADDR, ADDR:PORT, [V6ADDR] or [V6ADDR]:PORT, or {address: …, tls: "
                 "true}",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.listen.clear();
                     if (n.IsScalar() || n.IsMap()) {
                         c.listen.push_back(listen_entry_in(n));
                     } else if (n.IsSequence()) {
                         for (const YAML::Node& entry : n) c.listen.push_back(listen_entry_in(entry));
                     } else {
                         throw ValueError("expected a list of addresses");
                     }
                     if (c.listen.empty()) throw ValueError("needs at least one address");
                 }},
                {"admin", "off",
                 "admin listener serving /metrics (Prometheus) and /healthz: a loopback ADDR:PORT such as "
                 "127.0.0.1:9145, or {address: ADDR:PORT, public: true}",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.admin.reset();
                     if (n.IsNull() || (n.IsScalar() && n.Scalar() == "off")) return;
                     c.admin = admin_in(n);
                 }},
                {"backlog", "511", "length of each listening socket's accept queue",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.backlog = static_cast<int>(count_in(n, 1, 65535));
                 }},
                {"root", "./static", "document root; a relative path resolves against this file's directory",
                 [](const YAML::Node& n, const KeyContext& k, Config& c) { c.root = path_in(n, k); }},
                {"workers", "auto", "worker processes: a number, or auto for one per CPU",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.workers = scalar(n) == "auto" ? 0 : static_cast<unsigned>(count_in(n, 1, 1024));
                 }},
                {"index", "[index.html]", "file names tried, in order, for a request that names a directory",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.index = strings_in(n);
                     for (const std::string& name : c.index)
                         if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
                             throw ValueError(fmt::format("'{}' is not a plain file name", name));
                 }},
                {"serve_dotfiles", "false", "serve paths with a segment starting with '.' (otherwise 404)",
                 [](const YAML::Node& n, const KeyContext&, Config& c) { c.serve_dotfiles = bool_in(n); }},
                {"serve_well_known", "true",
                 "serve /.well-known/ (RFC 8615: ACME HTTP-01 challenges, security.txt) even when serve_dotfiles is "
                 "false",
                 [](const YAML::Node& n, const KeyContext&, Config& c) { c.serve_well_known = bool_in(n); }},
                {"server_tokens", "true", "send the version in the Server header (false: just \"pywebd\")",
                 [](const YAML::Node& n, const KeyContext&, Config& c) { c.server_tokens = bool_in(n); }},
                {"charset", "utf-8", "charset parameter added to text types; empty for none",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.charset = n.IsNull() ? std::string() : scalar(n);
                     if (c.charset.find_first_not_of(
                             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") != std::string::npos)
                         throw ValueError(fmt::format("'{}' is not a charset name", c.charset));
                 }},
                {"mime_types", "/etc/mime.types", "file mapping extensions to media types (built-in table if absent)",
                 [](const YAML::Node& n, const KeyContext& k, Config& c) { c.mime_types = path_in(n, k); }},
                {"precompressed",
                 "true", "serve x.br, x.zst or x.gz found beside x to clients that accept that encoding",
                 [](const YAML::Node& n, const KeyContext&, Config& c) { c.precompressed = bool_in(n); }},
                {"directory_listing", "false", "list a directory that has no index file (dotfiles never listed)",
                 [](const YAML::Node& n, const KeyContext&, Config& c) { c.directory_listing = bool_in(n); }},
                {"error_pages", "{}", "status → file under the root sent as that error's body, e.g. 404: /404.html",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.error_pages.clear();
                     if (n.IsNull()) return;
                     if (!n.IsMap()) throw ValueError("expected a map of status to path");
                     for (const auto& entry : n) {
                         const std::string status_text = scalar(entry.first);
                         const std::size_t status =
                             status_text.size() == 3 && status_text.find_first_not_of("0123456789") == std::string::npos
                                 ? std::stoul(status_text)
                                 : 0;
                         if (status < 400 || status > 599)
                             throw ValueError(fmt::format("'{}' is not an error status (400-599)", status_text),
                                              entry.first.Mark());
                         const std::string path = scalar(entry.second);
                         if (!path.starts_with('/') || path.find("..") != std::string::npos)
                             throw ValueError("the page must be a path under the root, such as /404.html",
                                              entry.second.Mark());
                         c.error_pages[static_cast<std::uint16_t>(status)] = path;
                     }
                 }},
                {"headers", "[]",
                 "per-path response fields: rules with path and/or extension, cache_control, expires, add",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.headers.clear();
                     if (n.IsNull()) return;
                     if (!n.IsSequence()) throw ValueError("expected a list of rules");
                     for (const YAML::Node& rule : n) c.headers.push_back(header_rule_in(rule));
                 }},
                {"sites", "[]",
                 "virtual hosts: {names: [a.example, \"*.b.example\"], root: DIR, and any of index, serve_dotfiles, "
                 "serve_well_known, precompressed, directory_listing, error_pages, headers, fallback, "
                 "asset_extensions, redirects, redirect, etag, compression}",
                 [](const YAML::Node&, const KeyContext&, Config&) {}},  // read after the rest: see load_sites
                {"unknown_host",
                 "serve", "a request whose Host names none of the sites: serve (the top-level site), 421 or 404",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     const std::string how = scalar(n);
                     if (how == "serve")
                         c.unknown_host = UnknownHost::Serve;
                     else if (how == "421")
                         c.unknown_host = UnknownHost::Misdirected;
                     else if (how == "404")
                         c.unknown_host = UnknownHost::NotFound;
                     else
                         throw ValueError(fmt::format("expected serve, 421 or 404, got '{}'", how));
                 }},
                {"fallback", "\"\"",
                 "file under the root answering, with 200, a GET or HEAD of a missing path that is not an asset (a "
                 "single-page app's /index.html); empty: off",
                 [](const YAML::Node& n, const KeyContext&, Config& c) { c.fallback = fallback_path_in(n); }},
                {"asset_extensions",
                 "[js, mjs, css, map, json, wasm, png, jpg, jpeg, gif, webp, avif, svg, ico, woff, "
                 "woff2, ttf, otf, txt, xml, pdf, zip, mp4, webm]",
                 "extensions of missing files that stay 404 rather than get the fallback",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.asset_extensions.clear();
                     if (n.IsNull()) return;
                     for (std::string extension : strings_in(n)) {
                         extension = to_lower(extension);
                         if (extension.starts_with('.')) extension.erase(0, 1);
                         if (extension.empty() || extension.find_first_of("/.") != std::string::npos)
                             throw ValueError(fmt::format("'{}' is not a file extension such as js", extension));
                         c.asset_extensions.push_back(extension);
                     }
                 }},
                {"etag", "metadata",
                 "how ETags are made: metadata (inode, size, mtime) or content (a hash of the bytes, the same on "
                 "every machine that serves the same file)",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     const std::string how = scalar(n);
                     if (how != "metadata" && how != "content")
                         throw ValueError(fmt::format("expected metadata or content, got '{}'", how));
                     c.etag_from_content = how == "content";
                 }},
                {"compression",
                 "{codings: [br, zstd, gzip], types: [text/*, application/javascript, …], min_size: 256}",
                 "compress responses on the fly for these media types from this size (off: never)",
                 [](const YAML::Node& n, const KeyContext&, Config& c) { c.compression = compression_in(n); }},
                {"redirects", "[]",
                 "rules {from: /old or /old/*, to: /new or https://…, status: 301|302|307|308, query: keep|drop}",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.redirects.clear();
                     if (n.IsNull()) return;
                     if (!n.IsSequence()) throw ValueError("expected a list of {from: …, to: …}");
                     for (const YAML::Node& rule : n) c.redirects.push_back(redirect_rule_in(rule));
                     check_redirect_cycles(c.redirects);
                 }},
                {"redirect", "\"\"",
                 "send every request to another origin, path and query appended: https://example.org (or {to: …, "
                 "status: 308}); empty: off",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.site_redirect.reset();
                     if (n.IsNull() || (n.IsScalar() && n.Scalar().empty())) return;
                     c.site_redirect = site_redirect_in(n);
                 }},
                {"user", "\"\"", "when started as root, workers run as this user; root itself only if named",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.user = n.IsNull() ? "" : account_name_in(n);
                 }},
                {"group", "\"\"", "group for the workers (empty: the user's primary group)",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.group = n.IsNull() ? "" : account_name_in(n);
                 }},
                {"access_log", "off", "combined-format access log file, or off",
                 [](const YAML::Node& n, const KeyContext& k, Config& c) {
                     c.access_log = scalar(n) == "off" ? std::filesystem::path() : path_in(n, k);
                 }},
                {"error_log", "stderr", "error log file, or stderr (the journal under systemd)",
                 [](const YAML::Node& n, const KeyContext& k, Config& c) {
                     c.error_log = scalar(n) == "stderr" ? "stderr" : path_in(n, k).string();
                 }},
                {"log_level", "notice",
                 "lowest error-log level written: debug, info (client errors), notice, warn, error, crit",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     const std::string text = scalar(n);
                     const auto level = parse_log_level(text);
                     if (!level)
                         throw ValueError(
                             fmt::format("expected debug, info, notice, warn, error or crit, got '{}'", text));
                     c.log_level = *level;
                 }},
                {"limits.max_head_bytes", "16KiB", "request line plus header fields; more is 414 or 431",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.limits.max_head_bytes = bytes_in(n, 1024, 1 << 20);
                 }},
                {"limits.max_headers", "100",
                 "header field lines per request (HTTP/2: cookie crumbs as one); more is 431",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.limits.max_headers = count_in(n, 1, 10000);
                 }},
                {"limits.max_uri_bytes", "8KiB", "request-target length (HTTP/2: :path); longer is 414",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.limits.max_uri_bytes = bytes_in(n, 64, 1 << 20);
                 }},
                {"limits.max_connections", "10000", "open client connections per worker; more wait in the accept queue",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.limits.max_connections = count_in(n, 1, 1'000'000);
                 }},
                {"limits.max_body_discard", "64KiB",
                 "request body read and dropped to keep a connection; larger closes it",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.limits.max_body_discard = bytes_in(n, 0, std::size_t{1} << 30);
                 }},
                {"limits.max_ranges", "16",
                 "byte ranges served in one response after merging; more sends the whole file",
                 [](const YAML::Node& n, const KeyContext&, Config& c) { c.limits.max_ranges = count_in(n, 1, 1000); }},
                {"cache.entries", "1000", "open files each worker keeps (0: no cache)",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.cache.entries = count_in(n, 0, 1'000'000);
                 }},
                {"cache.valid", "1s", "how long a cached file is trusted before it is opened again",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.cache.valid = duration_in(n, Millis{0}, Millis{3'600'000});
                 }},
                {"cache.compressed", "32MiB",
                 "compressed variants each worker keeps (least recently used dropped first; 0: none kept)",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.cache.compressed = bytes_in(n, 0, std::size_t{16} << 30);
                 }},
                {"cache.small_file", "16KiB", "files up to this size are kept in memory and sent with one write",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.cache.small_file = bytes_in(n, 0, 16u << 20);
                 }},
                {"tls.certificates", "[]",
                 "certificate chains and keys (PEM): a list of {certificate, key, ocsp_response}",
                 [](const YAML::Node& n, const KeyContext& k, Config& c) {
                     c.tls.certificates.clear();
                     if (n.IsNull()) return;
                     if (!n.IsSequence()) throw ValueError("expected a list of {certificate: …, key: …}");
                     for (const YAML::Node& entry : n) c.tls.certificates.push_back(certificate_in(entry, k));
                 }},
                {"tls.protocols", "[TLSv1.2, TLSv1.3]", "TLS versions offered: TLSv1.2 and/or TLSv1.3",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.tls.protocols = strings_in(n);
                     if (c.tls.protocols.empty()) throw ValueError("needs at least one of TLSv1.2, TLSv1.3");
                     for (const std::string& p : c.tls.protocols)
                         if (p != "TLSv1.2" && p != "TLSv1.3")
                             throw ValueError(fmt::format("'{}' is not offered (TLSv1.2, TLSv1.3)", p));
                 }},
                {"tls.ciphers", "\"ECDHE-ECDSA-AES128-GCM-SHA256:…\"",
                 "OpenSSL cipher string for TLS 1.2, in order of preference",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.tls.ciphers = scalar(n);
                     if (c.tls.ciphers.empty()) throw ValueError("expected an OpenSSL cipher string");
                 }},
                {"tls.ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
                 "TLS 1.3 cipher suites, in order of preference",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.tls.ciphersuites = scalar(n);
                     if (c.tls.ciphersuites.empty())
                         throw ValueError("expected TLS 1.3 suites such as TLS_AES_128_GCM_SHA256");
                 }},
                {"tls.groups", "X25519:P-256", "key exchange groups, in order of preference",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.tls.groups = scalar(n);
                     if (c.tls.groups.empty()) throw ValueError("expected groups such as X25519:P-256");
                 }},
                {"tls.session_tickets", "true", "let clients resume sessions (tickets whose keys every worker shares)",
                 [](const YAML::Node& n, const KeyContext&, Config& c) { c.tls.session_tickets = bool_in(n); }},
                {"tls.ticket_rotation", "1h", "a new session ticket key this often; the previous one still decrypts",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.tls.ticket_rotation = duration_in(n, Millis{1000}, Millis{7 * 24 * 3'600'000LL});
                 }},
                {"tls.ktls", "auto", "auto: kernel TLS and sendfile where the kernel offers them; off: never",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     const std::string text = scalar(n);
                     if (text != "auto" && text != "off")
                         throw ValueError(fmt::format("expected auto or off, got '{}'", text));
                     c.tls.ktls = text == "auto";
                 }},
                {"tls.log_protocol", "false", "add the TLS protocol and cipher to each HTTPS request's access-log line",
                 [](const YAML::Node& n, const KeyContext&, Config& c) { c.tls.log_protocol = bool_in(n); }},
                {"http2.max_concurrent_streams", "100", "HTTP/2 requests a connection may have open at once",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.http2.max_concurrent_streams = static_cast<std::uint32_t>(count_in(n, 1, 10'000));
                 }},
                {"http2.max_header_list_size", "16KiB", "decoded fields of one HTTP/2 request (then 431)",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.http2.max_header_list_size = bytes_in(n, 1024, std::size_t{1} << 20);
                 }},
                {"http2.header_table_size", "4KiB", "HPACK table a client may make the server keep per connection",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.http2.header_table_size = static_cast<std::uint32_t>(bytes_in(n, 0, std::size_t{1} << 16));
                 }},
                {"http2.initial_window_size", "65535", "request body bytes an HTTP/2 stream may send unacknowledged",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.http2.initial_window_size =
                         static_cast<std::uint32_t>(bytes_in(n, 0, (std::size_t{1} << 31) - 1));
                 }},
                {"http2.max_control_frames_per_second", "1000",
                 "PING, SETTINGS, WINDOW_UPDATE, PRIORITY, RST_STREAM or empty DATA frames of one kind a connection "
                 "may send per second",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.http2.max_control_frames_per_second = static_cast<std::uint32_t>(count_in(n, 10, 1'000'000));
                 }},
                {"timeouts.header", "10s", "from the first byte of a request to the end of its head (then 408)",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.timeouts.header = duration_in(n, Millis{100}, kMaxTimeout);
                 }},
                {"timeouts.keepalive", "15s", "idle time allowed between requests on a connection",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.timeouts.keepalive = duration_in(n, Millis{0}, kMaxTimeout);
                 }},
                {"timeouts.send", "30s", "time a response may go without any progress before the connection closes",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.timeouts.send = duration_in(n, Millis{100}, kMaxTimeout);
                 }},
                {"timeouts.shutdown", "10s", "graceful stop: how long workers may drain before they are killed",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.timeouts.shutdown = duration_in(n, Millis{0}, kMaxTimeout);
                 }},
                {"timeouts.linger", "5s", "after closing our side, how long to read what the client still sends",
                 [](const YAML::Node& n, const KeyContext&, Config& c) {
                     c.timeouts.linger = duration_in(n, Millis{0}, Millis{60'000});
                 }},
            });

}  // namespace

std::span<const ConfigKey> config_keys() { return kKeys; }

}  // namespace pywebd
