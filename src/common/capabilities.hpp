#pragma once

// Linux capabilities of the processes pywebd runs as. Under the packaged unit the master
// is the unprivileged pywebd user with two capabilities: CAP_NET_BIND_SERVICE (ports
// below 1024 on reload) and CAP_DAC_READ_SEARCH, which lets it read root-only (0600)
// private keys. The latter is effective only while a certificate or key file is read.
// Workers, which face the network, keep none at all.

#include <optional>
#include <string>

namespace pywebd {

// The master at start: CAP_DAC_READ_SEARCH stays permitted but leaves the effective
// set (ReadProtectedFiles raises it when needed), and no capability is passed on to
// programs it might exec (ambient set cleared). Returns an error text on failure.
std::optional<std::string> master_capabilities();

// Before the master re-executes itself (an in-place upgrade): the capabilities it holds
// (bind below 1024, read key files) are made ambient, so the new image starts with them
// as systemd started the old one; its master_capabilities() clears the ambient set
// again. Undone by master_capabilities() if the exec fails. Returns an error text if a
// capability it holds could not be made ambient (the new image would lack it).
std::optional<std::string> keep_capabilities_across_exec();

// A worker after its privilege drop: every capability gone (effective, permitted,
// inheritable, ambient), so neither a key file nor anything else beyond its user's
// rights is open to it. Returns an error text on failure.
std::optional<std::string> drop_all_capabilities();

// Capability sets of the calling process, as /proc/self/status shows them (for logs).
struct CapabilitySets {
    unsigned long long effective = 0, permitted = 0;
};
CapabilitySets current_capabilities();

// While it lives, CAP_DAC_READ_SEARCH is effective if the process holds it in its
// permitted set: the certificate loader reads root-only key files inside one.
class ReadProtectedFiles {
public:
    ReadProtectedFiles();
    ~ReadProtectedFiles();
    ReadProtectedFiles(const ReadProtectedFiles&) = delete;
    ReadProtectedFiles& operator=(const ReadProtectedFiles&) = delete;

private:
    bool raised_ = false;
};

}  // namespace pywebd
