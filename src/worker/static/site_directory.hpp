#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config.hpp"
#include "static/site.hpp"

namespace pywebd {

// Which site answers a request, by its authority (Host or :authority): the port and a
// trailing dot removed, compared case-insensitively; an exact name first, then the
// longest wildcard ("*.example.org" for any name under example.org). A lookup costs one
// hash probe per label of the host, however many sites there are.
class SiteDirectory {
public:
    void add(Site& site, const std::vector<std::string>& names);
    bool empty() const { return exact_.empty() && wildcard_.empty(); }
    // The configured site named by `authority`, or nullptr (none names it, or it is no
    // host a URL can carry).
    Site* find(std::string_view authority) const;
    // The host `authority` names as find() compared it (lower case, no port or trailing
    // dot), valid until the next call; empty when it names none.
    std::string_view last_host() const { return host_; }

private:
    struct NameHash {  // looks names up by string_view, without a copy
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using NameMap = std::unordered_map<std::string, Site*, NameHash, std::equal_to<>>;
    NameMap exact_;
    NameMap wildcard_;          // keyed by what follows "*."
    mutable std::string host_;  // scratch: the host being looked up
};

// A worker's sites: the default one (the top-level keys), the virtual hosts, and what a
// request whose Host names none of them gets.
struct Sites {
    Site& fallback_site;  // the top-level site: parse errors, unknown hosts when served
    SiteDirectory directory;
    UnknownHost unknown = UnknownHost::Serve;

    // The site for a request, nullptr when the policy refuses an unknown host.
    Site* choose(std::string_view authority) const {
        if (directory.empty()) return &fallback_site;
        if (Site* site = directory.find(authority)) return site;
        return unknown == UnknownHost::Serve ? &fallback_site : nullptr;
    }
};

}  // namespace pywebd
