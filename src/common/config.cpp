#include "config.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "config_keys.hpp"
#include "strings.hpp"
#include "tls_certificates.hpp"
#include "tls_context.hpp"

namespace pywebd {
namespace {

std::string where(const std::filesystem::path& file, const YAML::Mark& mark) {
    return fmt::format("{}:{}:{}", file.string(), mark.line + 1, mark.column + 1);
}

const ConfigKey* find_key(std::string_view path) {
    for (const ConfigKey& key : config_keys())
        if (key.path == path) return &key;
    return nullptr;
}

// A section is a key path that only has children ("limits", "timeouts").
bool is_section(std::string_view path) {
    return std::ranges::any_of(config_keys(), [&](const ConfigKey& key) {
        return key.path.size() > path.size() && key.path.starts_with(path) && key.path[path.size()] == '.';
    });
}

class Loader {
public:
    explicit Loader(std::filesystem::path file) : file_(std::move(file)) {
        context_.file = file_;
        context_.base_dir = file_.parent_path().empty() ? std::filesystem::current_path()
                                                        : std::filesystem::absolute(file_.parent_path());
    }

    void load_map(const YAML::Node& map, const std::string& prefix, Config& config) {
        if (!map.IsMap()) {
            add(map.Mark(), prefix.empty() ? "(top level)" : prefix, "expected a map of keys");
            return;
        }
        std::set<std::string> seen;
        for (const auto& entry : map) {
            const YAML::Node& key_node = entry.first;
            const YAML::Node& value = entry.second;
            const std::string name = key_node.IsScalar() ? key_node.Scalar() : std::string("?");
            const std::string path = prefix.empty() ? name : prefix + "." + name;
            if (!seen.insert(name).second) {
                add(key_node.Mark(), path, "duplicate key");
                continue;
            }
            if (is_section(path)) {
                load_map(value, path, config);
            } else if (const ConfigKey* key = find_key(path)) {
                apply(*key, value, config);
            } else {
                add(key_node.Mark(), path, "unknown key");
            }
        }
    }

    // `sites`, read once every top-level key is in, so each site starts from the top
    // level's values wherever in the file they are written.
    void load_sites(const YAML::Node& list, Config& config) {
        config.sites.clear();
        if (list.IsNull()) return;
        if (!list.IsSequence()) return add(list.Mark(), "sites", "expected a list of sites");
        std::map<std::string, std::string> owners;  // name → the site that has it, for duplicates
        for (std::size_t i = 0; i < list.size(); ++i) {
            const YAML::Node& entry = list[i];
            const std::string label = fmt::format("sites[{}]", i);
            if (!entry.IsMap()) {
                add(entry.Mark(), label, "each site is a map with names and root");
                continue;
            }
            Config site = config;
            site.sites.clear();
            site.label = label + ".";
            // A site's routing is its own: the top level's redirect, redirects and fallback
            // (nginx's return and try_files of one server) are not inherited.
            site.site_redirect.reset();
            site.redirects.clear();
            site.fallback.clear();
            bool has_root = false, has_names = false;
            for (const auto& item : entry) {
                const YAML::Node& key_node = item.first;
                const YAML::Node& value = item.second;
                const std::string name = key_node.IsScalar() ? key_node.Scalar() : std::string("?");
                if (name == "names") {
                    site.names = site_names_in(value, label + ".names");
                    has_names = true;
                } else if (std::find(kSiteKeys.begin(), kSiteKeys.end(), name) != kSiteKeys.end()) {
                    has_root = has_root || name == "root";
                    apply(*find_key(name), value, site, label + "." + name);
                } else {
                    add(key_node.Mark(), label + "." + name,
                        "unknown site key (names, root, index, serve_dotfiles, serve_well_known, precompressed, "
                        "directory_listing, error_pages, headers, fallback, asset_extensions, redirects, redirect, "
                        "etag, compression)");
                }
            }
            if (!has_names) add(entry.Mark(), label, "a site needs names: [example.org, …]");
            if (!has_root) add(entry.Mark(), label, "a site needs its own root");
            for (const std::string& name : site.names)
                if (const auto [it, fresh] = owners.emplace(name, label); !fresh)
                    add(entry.Mark(), label + ".names",
                        it->second == label ? fmt::format("'{}' is listed twice", name)
                                            : fmt::format("'{}' is already a name of {}", name, it->second));
            config.sites.push_back(std::move(site));
        }
    }

    std::vector<std::string> take_errors() { return std::move(errors_); }

private:
    // The keys a site may set for itself.
    static constexpr std::array<std::string_view, 14> kSiteKeys = {
        "root",        "index",      "serve_dotfiles", "serve_well_known", "precompressed", "directory_listing",
        "error_pages", "headers",    "fallback",       "asset_extensions", "redirects",     "redirect",
        "etag",        "compression"};

    // Host names as a Host field carries them: letters, digits, '-' and '.', lower-cased,
    // a trailing dot dropped; "*." in front for every name under one.
    std::vector<std::string> site_names_in(const YAML::Node& node, const std::string& label) {
        std::vector<std::string> names;
        const auto one = [&](const YAML::Node& item) {
            std::string name = item.IsScalar() ? item.Scalar() : std::string();
            for (char& ch : name) ch = ascii_lower(ch);
            if (name.ends_with('.')) name.pop_back();
            const std::string_view host = name.starts_with("*.") ? std::string_view(name).substr(2) : name;
            const bool valid =
                !host.empty() && host.size() <= 253 && !host.starts_with('.') && !host.ends_with('.') &&
                host.find("..") == std::string_view::npos &&
                host.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") == std::string_view::npos;
            if (!valid)
                return add(item.Mark(), label,
                           fmt::format("'{}' is not a host name such as example.org or *.example.org (no port)",
                                       item.IsScalar() ? item.Scalar() : std::string("?")));
            names.push_back(std::move(name));
        };
        if (node.IsScalar())
            one(node);
        else if (node.IsSequence() && node.size() == 0)
            add(node.Mark(), label, "a site needs at least one name");
        else if (node.IsSequence())
            for (const YAML::Node& item : node) one(item);
        else
            add(node.Mark(), label, "expected a list of host names");
        return names;
    }

    void apply(const ConfigKey& key, const YAML::Node& value, Config& config, std::string_view label = {}) {
        const std::string_view name = label.empty() ? key.path : label;
        try {
            key.apply(value, context_, config);
            config.origins[std::string(key.path)] = where(file_, value.Mark());
        } catch (const ValueError& error) {
            add(error.mark().value_or(value.Mark()), name, error.what());
        } catch (const YAML::Exception& error) {
            add(value.Mark(), name, error.msg);
        }
    }

    void add(const YAML::Mark& mark, std::string_view key, std::string_view message) {
        errors_.push_back(fmt::format("{}: {}: {}", where(file_, mark), key, message));
    }

    std::filesystem::path file_;
    KeyContext context_;
    std::vector<std::string> errors_;
};

std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const std::string& line : lines) {
        if (!out.empty()) out += '\n';
        out += line;
    }
    return out;
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> errors)
    : std::runtime_error(join_lines(errors)), errors_(std::move(errors)) {}

std::vector<ListenAddress> Config::effective_listen() const {
    std::vector<ListenAddress> out = listen;
    if (out.empty()) {
        out.push_back({AF_INET, "0.0.0.0", 0, false});
        out.push_back({AF_INET6, "::", 0, false});
    }
    for (ListenAddress& address : out) {
        if (!address.has_port) address.port = port;
        address.has_port = true;
    }
    return out;
}

bool Config::uses_tls() const {
    return std::any_of(listen.begin(), listen.end(), [](const ListenAddress& a) { return a.tls; });
}

unsigned Config::effective_workers() const {
    if (workers > 0) return workers;
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 ? static_cast<unsigned>(cpus) : 1;
}

Config load_config_file(const std::filesystem::path& file) {
    YAML::Node document;
    try {
        // Read it ourselves so that a directory or an unreadable file gets a clear error.
        UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
        struct stat st {};
        if (!fd || ::fstat(fd.get(), &st) != 0)
            throw ConfigError({fmt::format("{}: cannot open: {}", file.string(), std::strerror(errno))});
        if (!S_ISREG(st.st_mode)) throw ConfigError({fmt::format("{}: not a regular file", file.string())});
        document = YAML::LoadFile(file.string());
    } catch (const YAML::Exception& error) {
        throw ConfigError({fmt::format("{}: {}", where(file, error.mark), error.msg)});
    }
    Config config;
    config.source = file.string();
    Loader loader(file);
    if (!document.IsNull()) loader.load_map(document, "", config);
    if (document.IsMap()) {
        const YAML::Node& top = document;
        if (const YAML::Node sites = top["sites"]) loader.load_sites(sites, config);
    }
    if (auto errors = loader.take_errors(); !errors.empty()) throw ConfigError(std::move(errors));
    return config;
}

std::string Config::origin(std::string_view key) const {
    const auto it = origins.find(key);
    return it != origins.end() ? it->second : source;
}

namespace {

void check_root(Config& config, std::vector<std::string>& errors) {
    std::error_code ec;
    const auto root = std::filesystem::weakly_canonical(std::filesystem::absolute(config.root, ec), ec);
    struct stat st {};
    const std::string where = config.origin("root");
    const std::string key = config.label + "root";
    if (ec || ::stat(root.c_str(), &st) != 0) {
        errors.push_back(
            fmt::format("{}: {}: '{}': {}", where, key, config.root.string(), std::strerror(ec ? ec.value() : errno)));
    } else if (!S_ISDIR(st.st_mode)) {
        errors.push_back(fmt::format("{}: {}: '{}' is not a directory", where, key, config.root.string()));
    } else if (::access(root.c_str(), R_OK | X_OK) != 0) {
        errors.push_back(fmt::format("{}: {}: '{}': {}", where, key, root.string(), std::strerror(errno)));
    } else {
        config.root = root;
    }
}

// Workers started by root must run as a named user; root itself only when named.
void check_identity(const Config& config, std::vector<std::string>& errors) {
    if (!config.user.empty() && ::getpwnam(config.user.c_str()) == nullptr)
        errors.push_back(fmt::format("{}: user: '{}' does not exist", config.origin("user"), config.user));
    if (!config.group.empty() && ::getgrnam(config.group.c_str()) == nullptr)
        errors.push_back(fmt::format("{}: group: '{}' does not exist", config.origin("group"), config.group));
    if (::geteuid() == 0 && config.user.empty())
        errors.push_back(
            fmt::format("{}: user: refusing to run workers as root; name an unprivileged user "
                        "(user: www-data), or user: root (-u root) to allow it explicitly",
                        config.origin("user")));
}

// HTTPS listeners need certificates, and every certificate must load and check out
// (see load_certificates): `pywebd -t` finds what the start or reload would.
void check_tls(Config& config, std::vector<std::string>& errors) {
    if (!config.uses_tls()) {
        if (!config.tls.certificates.empty())
            config.warnings.push_back(
                fmt::format("{}: tls.certificates: no listen entry has tls: true; they are unused",
                            config.origin("tls.certificates")));
        return;
    }
    if (config.tls.certificates.empty()) {
        errors.push_back(
            fmt::format("{}: listen: a listener with tls: true needs tls.certificates", config.origin("listen")));
        return;
    }
    const std::size_t before = errors.size();
    auto loaded = load_certificates(config.tls, std::time(nullptr), errors, config.warnings);
    if (errors.size() > before) return;
    try {
        const TlsContext check(config.tls, std::move(loaded), nullptr);  // the settings OpenSSL must accept
    } catch (const TlsError& error) {
        errors.push_back(fmt::format("{}: {}: {}", config.origin(error.key()), error.key(), error.what()));
    }
}

}  // namespace

void validate(Config& config) {
    std::vector<std::string> errors;
    config.warnings.clear();
    check_root(config, errors);
    for (Config& site : config.sites) check_root(site, errors);
    check_identity(config, errors);
    check_tls(config, errors);
    if (config.admin && config.admin->port != 0) {
        const ListenAddress& admin = *config.admin;
        const auto wildcard = [](const ListenAddress& a) { return a.host == "0.0.0.0" || a.host == "::"; };
        for (const ListenAddress& entry : config.effective_listen())
            if (entry.family == admin.family && entry.port == admin.port &&
                (entry.host == admin.host || wildcard(entry) || wildcard(admin)))
                errors.push_back(fmt::format("{}: admin: {} overlaps the listen address {}", config.origin("admin"),
                                             admin.to_string(), entry.to_string()));
    }
    if (config.limits.max_uri_bytes > config.limits.max_head_bytes)
        errors.push_back(fmt::format("{}: limits.max_uri_bytes ({}) cannot exceed limits.max_head_bytes ({})",
                                     config.origin("limits.max_uri_bytes"), config.limits.max_uri_bytes,
                                     config.limits.max_head_bytes));
    if (!errors.empty()) throw ConfigError(std::move(errors));
}

}  // namespace pywebd
