#include "effective_config.hpp"

#include "clock.hpp"

namespace pywebd {

Config load_effective_config(const CliOptions& options) {
    const std::int64_t started_us = monotonic_us();
    Config config;
    if (options.config_file) config = load_config_file(*options.config_file);
    if (options.port) {
        config.port = *options.port;
        for (ListenAddress& address : config.listen) {
            address.port = *options.port;
            address.has_port = true;
        }
    }
    if (options.root) {
        config.root = std::filesystem::absolute(*options.root);
        config.origins["root"] = "--root";
    }
    if (options.workers) config.workers = *options.workers;
    if (options.user) {
        config.user = *options.user;
        config.origins["user"] = "--user";
    }
    validate(config);
    config.load_us = monotonic_us() - started_us;
    return config;
}

}  // namespace pywebd
