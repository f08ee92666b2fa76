#include "redirect_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

#include "config_keys.hpp"
#include "redirects.hpp"

namespace pywebd {
namespace {

std::string text_of(const YAML::Node& node) {
    if (!node.IsScalar()) throw ValueError("expected a single value, not a list or a map", node.Mark());
    return node.Scalar();
}

// What a Location may carry as written: URI characters only (no space, quote, control).
bool uri_text(std::string_view text) {
    constexpr std::string_view kAllowed =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?%#[]";
    return !text.empty() && text.find_first_not_of(kAllowed) == std::string_view::npos;
}

bool absolute_url(std::string_view text) {
    for (std::string_view scheme : {"https://", "http://"})
        if (text.starts_with(scheme) && text.size() > scheme.size() && text[scheme.size()] != '/') return true;
    return false;
}

// A path under the root as a client writes it: one leading '/', no empty, "." or ".."
// segment (so it names one file, and cannot name a way out).
bool plain_path(std::string_view path) {
    if (!path.starts_with('/') || path.size() < 2) return false;
    for (std::size_t start = 1; start <= path.size();) {
        const std::size_t end = std::min(path.find('/', start), path.size());
        const std::string_view segment = path.substr(start, end - start);
        if (segment.empty() || segment == "." || segment == "..") return false;
        start = end + 1;
    }
    return true;
}

std::uint16_t status_in(const YAML::Node& node) {
    const std::string text = text_of(node);
    for (const int status : {301, 302, 307, 308})
        if (text == std::to_string(status)) return static_cast<std::uint16_t>(status);
    throw ValueError(fmt::format("a redirect status is 301, 302, 307 or 308, not '{}'", text), node.Mark());
}

std::string path_part(std::string_view target) { return std::string(target.substr(0, target.find_first_of("?#"))); }

}  // namespace

RedirectRule redirect_rule_in(const YAML::Node& node) {
    if (!node.IsMap()) throw ValueError("each redirect is a map with from and to", node.Mark());
    RedirectRule rule;
    bool has_from = false, has_to = false;
    for (const auto& entry : node) {
        const std::string key = text_of(entry.first);
        const YAML::Node& value = entry.second;
        if (key == "from") {
            rule.from = text_of(value);
            rule.prefix = rule.from.ends_with('*');
            if (rule.prefix) rule.from.pop_back();
            if (!rule.from.starts_with('/') || !uri_text(rule.from) ||
                rule.from.find_first_of("?#*") != std::string::npos)
                throw ValueError("from is a path such as /old or a prefix such as /old/*", value.Mark());
            has_from = true;
        } else if (key == "to") {
            rule.to = text_of(value);
            if (!uri_text(rule.to) ||
                !(absolute_url(rule.to) || (rule.to.starts_with('/') && !rule.to.starts_with("//"))))
                throw ValueError("to is a path such as /new or a URL such as https://example.org/new", value.Mark());
            has_to = true;
        } else if (key == "status") {
            rule.status = status_in(value);
        } else if (key == "query") {
            const std::string query = text_of(value);
            if (query != "keep" && query != "drop") throw ValueError("query is keep or drop", value.Mark());
            rule.keep_query = query == "keep";
        } else {
            throw ValueError(fmt::format("unknown redirect key '{}' (from, to, status, query)", key),
                             entry.first.Mark());
        }
    }
    if (!has_from || !has_to) throw ValueError("a redirect needs from and to", node.Mark());
    // "https://example.org" + "@evil.example" would name another host: a URL gets its "/"
    // (before any query or fragment).
    if (absolute_url(rule.to)) {
        const std::size_t authority_end = rule.to.find_first_of("/?#", rule.to.find("//") + 2);
        if (authority_end == std::string::npos)
            rule.to.push_back('/');
        else if (rule.to[authority_end] != '/')
            rule.to.insert(authority_end, "/");
    }
    if (rule.prefix && rule.to.find_first_of("?#") != std::string::npos)
        throw ValueError("the target of a prefix rule takes no query or fragment (the rest of the path is appended)",
                         node.Mark());
    if (rule.prefix && rule.from.ends_with('/') && !rule.to.ends_with('/'))
        throw ValueError(fmt::format("from {}* ends in '/', so to must too ({}/), or /x would become {}x", rule.from,
                                     rule.to, rule.to),
                         node.Mark());
    // The target is answered by this same rule again: a loop no client can leave.
    const std::string to_path = path_part(rule.to);
    if (!absolute_url(rule.to) && (rule.prefix ? to_path.starts_with(rule.from) : to_path == rule.from))
        throw ValueError(fmt::format("redirects {} to itself ({})", rule.from + (rule.prefix ? "*" : ""), rule.to),
                         node.Mark());
    return rule;
}

void check_redirect_cycles(const std::vector<RedirectRule>& rules) {
    const Redirects index(rules, std::nullopt);  // matched and joined exactly as the server does
    std::unordered_set<std::string> leave;       // paths whose redirects are known to end
    for (const RedirectRule& start : rules) {
        // A prefix is followed bare and with a remainder: another rule may catch one only.
        const std::vector<std::string> probes = start.prefix ? std::vector<std::string>{start.from, start.from + "x"}
                                                             : std::vector<std::string>{start.from};
        for (std::string path : probes) {
            std::vector<std::string> walk;
            std::string chain = path;
            for (const RedirectRule* rule = index.match(path); rule != nullptr && !absolute_url(rule->to);
                 rule = index.match(path)) {
                if (leave.contains(path)) break;
                walk.push_back(path);
                path = path_part(Redirects::location(*rule, path, false, {}));
                chain += " → " + path;
                if (std::find(walk.begin(), walk.end(), path) != walk.end())
                    throw ValueError(fmt::format("these redirects loop: {}", chain));
                if (walk.size() > rules.size() + 1)
                    throw ValueError(fmt::format("these redirects never end: {} …", chain.substr(0, 200)));
            }
            leave.insert(walk.begin(), walk.end());
        }
    }
}

RedirectRule site_redirect_in(const YAML::Node& node) {
    RedirectRule rule;
    rule.from = "/";
    rule.prefix = true;
    const YAML::Node to = node.IsMap() ? node["to"] : node;
    if (node.IsMap()) {
        for (const auto& entry : node) {
            const std::string key = text_of(entry.first);
            if (key == "status")
                rule.status = status_in(entry.second);
            else if (key != "to")
                throw ValueError(fmt::format("unknown redirect key '{}' (to, status)", key), entry.first.Mark());
        }
        if (!to) throw ValueError("a site redirect needs to: https://…", node.Mark());
    }
    rule.to = text_of(to);
    if (!uri_text(rule.to) || !absolute_url(rule.to) || rule.to.find_first_of("?#") != std::string::npos)
        throw ValueError("redirect is a URL such as https://example.org (the path and query are appended)", to.Mark());
    if (!rule.to.ends_with('/')) rule.to.push_back('/');
    return rule;
}

std::string fallback_path_in(const YAML::Node& node) {
    if (node.IsNull()) return {};
    const std::string path = text_of(node);
    if (path.empty()) return {};
    if (!plain_path(path) || !uri_text(path) || path.find_first_of("?#%") != std::string::npos ||
        path.find("/.") != std::string::npos)
        throw ValueError("fallback is a file under the root such as /index.html (no dotfile)", node.Mark());
    return path;
}

}  // namespace pywebd
