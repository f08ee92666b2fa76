#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "config.hpp"

namespace pywebd {

// The site keys that send a request elsewhere or answer it with another file, read from
// YAML and checked (ValueError with the position of what is wrong):
// `redirects: [{from: /old, to: /new, status: 301, query: keep}]` — `from` exact, or a
// prefix when it ends in '*'; `to` a path or an http(s) URL; a rule that would redirect
// to itself again is refused.
RedirectRule redirect_rule_in(const YAML::Node& node);
// Follows each rule's target (a path) through the rules as the server would match them:
// an error naming the cycle if one comes back to where it started ("/a → /b → /a").
void check_redirect_cycles(const std::vector<RedirectRule>& rules);
// `redirect: https://example.org` or `{to: …, status: 308}`: the whole site, path and
// query appended.
RedirectRule site_redirect_in(const YAML::Node& node);
// `fallback: /index.html`: a file path under the root (no dot segments, no directory).
std::string fallback_path_in(const YAML::Node& node);

}  // namespace pywebd
