#include "notifier.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

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
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec =
        static_cast<std::uint64_t>(now.tv_sec) * 1'000'000 + static_cast<std::uint64_t>(now.tv_nsec) / 1000;
    send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS={}", usec, status));
}

void Notifier::stopping(std::string_view status) { send(fmt::format("STOPPING=1\nSTATUS={}", status)); }

void Notifier::status(std::string_view status) { send(fmt::format("STATUS={}", status)); }

void Notifier::watchdog() { send("WATCHDOG=1"); }

}  // namespace pywebd
