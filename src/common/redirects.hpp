#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config.hpp"

namespace pywebd {

// A site's configured redirects, looked up by the request's path as received: exact
// rules by hash, then prefix rules longest first, then the whole-site redirect. The
// cost of a request that matches nothing is one hash lookup and a scan of the prefixes.
class Redirects {
public:
    Redirects() = default;
    Redirects(std::vector<RedirectRule> rules, std::optional<RedirectRule> whole_site);

    bool empty() const { return exact_.empty() && prefixes_.empty() && !whole_site_; }
    const RedirectRule* match(std::string_view path) const;
    // The Location for `path` (and the query, when the rule keeps it): `to`, with the
    // rest of the path after a prefix appended — never starting a second '/' after a
    // '/' (so a path cannot turn the target into another host).
    static std::string location(const RedirectRule& rule, std::string_view path, bool has_query,
                                std::string_view query);

private:
    std::unordered_map<std::string, RedirectRule> exact_;
    std::vector<RedirectRule> prefixes_;  // longest `from` first
    std::optional<RedirectRule> whole_site_;
};

}  // namespace pywebd
