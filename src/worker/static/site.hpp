#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compress/compression_options.hpp"
#include "redirects.hpp"
#include "static/content_tags.hpp"
#include "static/file_cache.hpp"
#include "static/file_open.hpp"
#include "static/header_rules.hpp"

namespace pywebd {

// How a site is served: what the configuration says about its files.
struct ServeOptions {
    std::vector<std::string> index = {"index.html"};
    bool serve_dotfiles = false;
    bool serve_well_known = true;
    std::size_t max_ranges = 16;
    bool precompressed = true;
    bool directory_listing = false;
    std::map<std::uint16_t, std::string> error_pages;  // status → path under the root
    HeaderRules header_rules;
    Confinement confinement = Confinement::Openat2;
    std::size_t small_file = 16 * 1024;  // files up to this size are held in memory
    std::string fallback;                // answers a missing path that is not an asset; empty: off
    std::vector<std::string> asset_extensions;
    Redirects redirects;
    bool etag_from_content = false;  // etag: content
    CompressionOptions compression;
};

// One site: its document root, how to serve it and its open-file cache. The handler
// is given the site a request is for (chosen by the request's authority once there are
// virtual hosts; today a worker serves exactly one).
struct Site {
    int root_fd = -1;  // O_PATH directory; owned by the worker
    ServeOptions options;
    FileCache cache;
    ContentTags content_tags{1000};  // used with etag: content
};

}  // namespace pywebd
