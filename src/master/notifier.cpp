#include "notifier.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

#include "clock.hpp"

#include <fmt/format.h>

namespace pywebd {

Notifier::Notifier() {
    std::uint64_t usec = 0;
    if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        watchdog_period_ = std::chrono::milliseconds(static_cast<std::int64_t>(usec / 2000));
}

void Notifier::send(std::string_view message) {
    const std::string text(message);
    ::sd_notify(0, text.c_str());
}

void Notifier::ready(std::string_view status) { send(fmt::format("READY=1\nSTATUS={}", status)); }

void Notifier::reloading(std::string_view status) {
    send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS={}", monotonic_us(), status));
}

void Notifier::stopping(std::string_view status) { send(fmt::format("STOPPING=1\nSTATUS={}", status)); }

void Notifier::status(std::string_view status) { send(fmt::format("STATUS={}", status)); }

void Notifier::watchdog() { send("WATCHDOG=1"); }

}  // namespace pywebd
