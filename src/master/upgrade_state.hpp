#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pywebd {

// What a master hands to the image it re-executes for an in-place upgrade, in the
// environment (kUpgradeEnvironment) beside the descriptors it leaves open across exec:
// its listening sockets, the metrics segment, and each worker still running (whose
// channel it keeps open, so the worker does not take the exec for its master's death).
// The new master adopts those workers, starts a generation of its own, and drains them
// once it serves.
struct UpgradeState {
    static constexpr int kFormat = 1;

    struct Socket {
        int fd = -1;
        bool inherited = false;  // from systemd's socket activation
        bool admin = false;
    };
    struct Worker {
        pid_t pid = 0;
        unsigned generation = 0;
        unsigned slot = 0;
        std::size_t metrics_slot = 0;
        int channel = -1;  // the master's end
        bool ready = false;
        bool quitting = false;  // draining (an older generation's)
    };
    pid_t master = 0;  // the process it was made for (exec keeps the PID)
    std::vector<Socket> sockets;
    bool socket_activated = false;
    int metrics_fd = -1;
    unsigned next_generation = 1;
    std::vector<Worker> workers;

    std::string encode() const;
    // Nullopt, with `error` naming what is wrong, for anything but a well-formed state:
    // every item understood, descriptors above stdio and each named once.
    static std::optional<UpgradeState> decode(std::string_view text, std::string& error);
    // Every descriptor it names.
    std::vector<int> fds() const;
};

inline constexpr const char* kUpgradeEnvironment = "PYWEBD_UPGRADE";
// Set beside it for the trial start the running master makes of the new binary before
// it executes it: the new image starts as far as it would (configuration, logs, sockets,
// certificates, metrics), then exits 0 without serving.
inline constexpr const char* kUpgradeTrialEnvironment = "PYWEBD_UPGRADE_TRIAL";

// The running image's file: its path, and whether the file there now is another one
// (a package upgrade replaced it).
struct ExecutableFile {
    std::string path;
    dev_t device = 0;
    ino_t inode = 0;
    bool known = false;  // /proc/self/exe could be read

    static ExecutableFile of_this_process();
    bool replaced_on_disk() const;
};

}  // namespace pywebd
