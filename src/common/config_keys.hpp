#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config.hpp"

namespace pywebd {

// Thrown by a key's setter when a value is wrong; the loader adds file:line:col and key.
class ValueError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct KeyContext {
    std::filesystem::path base_dir;  // relative paths in the file resolve against it
};

// One configuration key: its dotted path, its default as written in config/server.yaml,
// a one-line meaning, and the setter that checks and stores a value.
struct ConfigKey {
    std::string_view path;
    std::string_view default_text;
    std::string_view doc;
    void (*apply)(const YAML::Node& value, const KeyContext& context, Config& config);
};

std::span<const ConfigKey> config_keys();

}  // namespace pywebd
