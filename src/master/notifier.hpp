#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pywebd {

// The service manager protocol (sd_notify). Every call is a no-op when NOTIFY_SOCKET is
// unset, so the same binary runs under systemd, under a test harness, or by hand.
class Notifier {
public:
    Notifier();

    void ready(std::string_view status);
    void reloading(std::string_view status);  // RELOADING=1 with MONOTONIC_USEC
    void stopping(std::string_view status);
    void status(std::string_view status);
    void watchdog();

    // Half the watchdog interval systemd asked for (WATCHDOG_USEC), if any.
    std::optional<std::chrono::milliseconds> watchdog_period() const { return watchdog_period_; }

private:
    void send(std::string_view message);
    std::optional<std::chrono::milliseconds> watchdog_period_;
};

}  // namespace pywebd
