#include "static/header_rules.hpp"

#include "strings.hpp"

namespace pywebd {
namespace {

bool has_extension(std::string_view file_name, std::string_view extension) {
    const auto dot = file_name.rfind('.');
    return dot != std::string_view::npos && iequals(file_name.substr(dot + 1), extension);
}

// "/docs" requested as "/docs/" matches the prefix "/docs/".
bool has_prefix(std::string_view path, bool directory, std::string_view prefix) {
    if (path.starts_with(prefix)) return true;
    return directory && prefix.size() == path.size() + 1 && prefix.starts_with(path) && prefix.back() == '/';
}

}  // namespace

HeaderRules::HeaderRules(const std::vector<HeaderRule>& rules) {
    for (const HeaderRule& rule : rules) {
        Rendered r;
        r.path_prefix = rule.path_prefix;
        r.extension = rule.extension;
        if (rule.cache_control) r.cache_control = *rule.cache_control;
        if (rule.expires) r.expires_seconds = rule.expires->count() / 1000;
        r.fields = rule.fields;
        rules_.push_back(std::move(r));
    }
}

long long HeaderRules::write(std::string_view path, bool directory, std::string_view file_name,
                             http::FieldBlock& out) const {
    const Rendered* cache_control = nullptr;
    long long expires = -1;
    for (const Rendered& rule : rules_) {
        if (!rule.path_prefix.empty() && !has_prefix(path, directory, rule.path_prefix)) continue;
        if (!rule.extension.empty() && !has_extension(file_name, rule.extension)) continue;
        if (!rule.cache_control.empty()) cache_control = &rule;
        if (rule.expires_seconds >= 0) expires = rule.expires_seconds;
        for (const auto& [name, value] : rule.fields) out.add(name, value);
    }
    if (cache_control) out.add("Cache-Control", cache_control->cache_control);
    return expires;
}

void HeaderRules::write_expires(long long seconds, std::time_t now, http::FieldBlock& out) {
    if (seconds >= 0) out.add_date("Expires", now + seconds);
}

}  // namespace pywebd
