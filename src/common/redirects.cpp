#include "redirects.hpp"

#include <algorithm>

namespace pywebd {

Redirects::Redirects(std::vector<RedirectRule> rules, std::optional<RedirectRule> whole_site)
    : whole_site_(std::move(whole_site)) {
    for (RedirectRule& rule : rules) {
        if (rule.prefix)
            prefixes_.push_back(std::move(rule));
        else
            exact_.try_emplace(rule.from, std::move(rule));  // the first of two equal rules wins
    }
    std::stable_sort(prefixes_.begin(), prefixes_.end(),
                     [](const RedirectRule& a, const RedirectRule& b) { return a.from.size() > b.from.size(); });
}

const RedirectRule* Redirects::match(std::string_view path) const {
    if (!exact_.empty()) {
        const auto it = exact_.find(std::string(path));
        if (it != exact_.end()) return &it->second;
    }
    for (const RedirectRule& rule : prefixes_)
        if (path.starts_with(rule.from)) return &rule;
    return whole_site_ ? &*whole_site_ : nullptr;
}

std::string Redirects::location(const RedirectRule& rule, std::string_view path, bool has_query,
                                std::string_view query) {
    std::string out = rule.to;
    if (rule.prefix) {
        std::string_view rest = path.substr(std::min(rule.from.size(), path.size()));
        if (out.ends_with('/'))
            while (rest.starts_with('/')) rest.remove_prefix(1);
        out.append(rest);
    }
    if (rule.keep_query && has_query) {  // before a fragment the target may carry
        const std::size_t fragment = std::min(out.find('#'), out.size());
        const std::string_view join = out.find('?') < fragment ? "&" : "?";
        out.insert(fragment, std::string(join).append(query));
    }
    return out;
}

}  // namespace pywebd
