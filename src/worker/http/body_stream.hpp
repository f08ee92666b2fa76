#pragma once

#include <string>

namespace pywebd {

// A response body made while it is sent (a file compressed on the fly), whose length is
// not known when the head goes out: HTTP/1.1 frames it in chunks, HTTP/2 in DATA frames
// with END_STREAM on the last. Each call to next() does a bounded amount of work, so a
// session can spread a large body over many event-loop turns.
class BodyStream {
public:
    virtual ~BodyStream() = default;
    // Appends the next piece (not empty unless the body is done) to `out`. False when the
    // body cannot be finished (the file shrank, a coder failed): the response must be cut.
    virtual bool next(std::string& out) = 0;
    virtual bool done() const = 0;
};

}  // namespace pywebd
