#pragma once

// What a worker gives its sessions, built over a temp document root, for unit tests of
// the session and the connection: no worker, no epoll, no fork.

#include <fcntl.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/connection.hpp"
#include "temp_dir.hpp"

namespace pywebd::test {

struct SessionParts {
    SessionParts()
        : mime(MimeTypes::load("/etc/mime.types", "utf-8")),
          date("pywebd"),
          timers({std::chrono::milliseconds(1000), std::chrono::milliseconds(2000), std::chrono::milliseconds(3000),
                  std::chrono::milliseconds(500)}),
          log("test"),
          handler(mime, date, pages, "BOUNDARY", log),
          drop(4096),
          services{SessionServices{timers, handler, sites, access, date, log, counters, drop, false, 0, false, true},
                   H1Services{pool, h1::ParseLimits{16, 512}, 64}, H2Services{Http2Settings{}, drop, 100, 8192, {}},
                   listeners} {
        log.set_level(LogLevel::Crit);
        root.reset(::open(dir.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        site.root_fd = root.get();
    }
    SessionParts(const SessionParts&) = delete;
    SessionParts& operator=(const SessionParts&) = delete;

    TempDir dir;  // the document root
    UniqueFd root;
    MimeTypes mime;
    DateCache date;
    ErrorPages pages;
    AccessLog access;  // off unless a test gives it a file
    BufferPool pool{1024, 16, 4};
    TimerLists timers;
    Logger log;
    WorkerCounters counters;
    Site site{-1, {}, FileCache(100, std::chrono::seconds(1))};
    Sites sites{site, {}, UnknownHost::Serve};
    StaticHandler handler;
    std::vector<char> drop;
    std::vector<ListenAddress> listeners{ListenAddress{}};  // one plain listener
    ConnectionServices services;
};

}  // namespace pywebd::test
