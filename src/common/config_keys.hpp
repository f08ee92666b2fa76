#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config.hpp"

namespace pywebd {

// Thrown by a key's setter when a value is wrong; the loader adds file:line:col and key.
class ValueError : public std::runtime_error {
public:
    explicit ValueError(const std::string& message, std::optional<YAML::Mark> mark = std::nullopt)
        : std::runtime_error(message), mark_(mark) {}
    // Inside a list or map value, where exactly the problem is.
    const std::optional<YAML::Mark>& mark() const { return mark_; }

private:
    std::optional<YAML::Mark> mark_;
};

struct KeyContext {
    std::filesystem::path file;      // the configuration file, for positions in late errors
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
