#include "static/site_directory.hpp"

#include "http/authority.hpp"
#include "strings.hpp"

namespace pywebd {

void SiteDirectory::add(Site& site, const std::vector<std::string>& names) {
    for (const std::string& name : names) {
        if (name.starts_with("*."))
            wildcard_.try_emplace(name.substr(2), &site);
        else
            exact_.try_emplace(name, &site);
    }
}

Site* SiteDirectory::find(std::string_view authority) const {
    host_.clear();
    const auto host = http::host_of(authority);
    if (!host || host->empty()) return nullptr;
    std::string_view name = *host;
    if (name.ends_with('.')) name.remove_suffix(1);
    // Empty labels name nothing (".a.example" would reach *.a.example, and OpenSSL reads
    // a leading dot in X509_check_host as "any subdomain").
    if (name.empty() || name.starts_with('.') || name.find("..") != std::string_view::npos) return nullptr;
    host_.assign(name);
    for (char& c : host_) c = ascii_lower(c);
    if (const auto it = exact_.find(host_); it != exact_.end()) return it->second;
    if (wildcard_.empty()) return nullptr;
    // "a.b.example.org": "*.b.example.org", then "*.example.org", then "*.org".
    for (std::size_t dot = host_.find('.'); dot != std::string::npos; dot = host_.find('.', dot + 1))
        if (const auto it = wildcard_.find(std::string_view(host_).substr(dot + 1)); it != wildcard_.end())
            return it->second;
    return nullptr;
}

}  // namespace pywebd
