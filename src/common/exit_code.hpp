#pragma once

namespace pywebd {

// Exit statuses shared by master and workers (and documented for operators).
enum class ExitCode : int {
    Ok = 0,
    Failure = 1,  // bad config, port in use, startup failure
    Usage = 2,    // bad command line
};

// A worker that exits with this status hit a problem a restart cannot fix
// (root directory unopenable, privilege drop failed); the master does not respawn it.
inline constexpr int kWorkerFatalStatus = 3;

}  // namespace pywebd
