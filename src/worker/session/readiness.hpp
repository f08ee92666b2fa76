#pragma once

#include <cstddef>

#include "net/transport.hpp"

namespace pywebd {

// What a session knows of its connection under edge-triggered epoll: data to read and
// room to write are assumed until a call says WouldBlock (no new edge would come for
// what is already there), and a transport may make a read wait for writability or a
// write for readability, as TLS does.
struct Readiness {
    bool readable = true;
    bool writable = true;
    bool peer_shut = false;  // EPOLLRDHUP seen: keep reading to the EOF
    bool write_waits_read = false;
    bool read_waits_write = false;

    void on_events(bool now_readable, bool now_writable, bool hangup) {
        if (now_readable) {
            readable = true;
            write_waits_read = false;
        }
        if (now_writable) {
            writable = true;
            read_waits_write = false;
        }
        peer_shut = peer_shut || hangup;
    }
    // A call said WouldBlock: wait for what the transport waits for.
    void blocked(const Transport& transport, bool writing) {
        if (transport.waiting_for() == Transport::Wait::Readable) {
            readable = false;
            write_waits_read = writing;
        } else {
            writable = false;
            read_waits_write = !writing;
        }
    }
    // A read that got less than it asked for emptied a source that says so: the read that
    // would only say EAGAIN is skipped. Not after a hangup, whose EOF must be read.
    void after_read(std::size_t got, std::size_t asked, const Transport& transport) {
        if (got < asked && !peer_shut && transport.short_read_drains()) readable = false;
    }
    bool can_read() const { return readable && !read_waits_write; }
    bool can_write() const { return writable && !write_waits_read; }
};

}  // namespace pywebd
