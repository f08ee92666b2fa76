#include "targets.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fake_transport.hpp"
#include "h1/chunked_body.hpp"
#include "h1/head_parser.hpp"
#include "h1/head_scanner.hpp"
#include "h1/request_framing.hpp"
#include "http/byte_ranges.hpp"
#include "session_parts.hpp"
#include "static/uri_path.hpp"

namespace pywebd::fuzz {
namespace {

[[noreturn]] void violated(const char* what) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
}

#define FUZZ_CHECK(condition)                   \
    do {                                        \
        if (!(condition)) violated(#condition); \
    } while (false)

bool inside(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

// The whole input scanned at once, and again split at a point chosen by its first
// byte, must agree; every view the parser returns must point into the input.
void request_parser(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    constexpr std::size_t kCapacity = 4096;
    const std::string_view buffered = input.substr(0, kCapacity);
    const bool full = buffered.size() == kCapacity;

    h1::HeadScanner whole;
    const auto a = whole.scan(buffered, full);
    h1::HeadScanner split;
    const std::size_t cut = size > 0 ? data[0] % (buffered.size() + 1) : 0;
    auto b = split.scan(buffered.substr(0, cut), false);
    if (b.status == h1::HeadScanner::Status::Incomplete) b = split.scan(buffered, full);
    FUZZ_CHECK(a.status == b.status);
    FUZZ_CHECK(a.error == b.error);
    if (a.status != h1::HeadScanner::Status::Complete) return;
    FUZZ_CHECK(whole.head_end() == split.head_end());
    FUZZ_CHECK(whole.head_begin() <= whole.head_end() && whole.head_end() <= buffered.size());

    const std::string_view head = buffered.substr(whole.head_begin(), whole.head_end() - whole.head_begin());
    std::array<http::Header, 64> storage{};
    h1::RequestHead parsed;
    if (h1::parse_head(head, {64, 2048}, storage, parsed) != h1::ParseError::None) return;
    FUZZ_CHECK(inside(parsed.method_text, head) && inside(parsed.target, head) && inside(parsed.request_line, head));
    for (const http::Header& h : parsed.headers) {
        FUZZ_CHECK(inside(h.name, head) && inside(h.value, head));
        FUZZ_CHECK(!h.name.empty());
        FUZZ_CHECK(h.value.find('\r') == std::string_view::npos && h.value.find('\n') == std::string_view::npos);
    }
    http::Request request;
    h1::MessageFacts message;
    if (h1::analyze(parsed, request, message) != h1::ParseError::None) return;
    FUZZ_CHECK(!(message.chunked && message.content_length > 0));
    // An absolute-form target without a path ("http://h?q") gets the static "/".
    FUZZ_CHECK(inside(request.path, head) || request.path == "/");
    FUZZ_CHECK(inside(request.query, head) && inside(request.authority, head));
    FUZZ_CHECK(request.asterisk || request.path.empty() || request.path.front() == '/');
    if (message.chunked) chunked_body(input.substr(whole.head_end()), data[0]);
}

// A chunked body read whole, and again in two pieces split where `seed` says (the
// unconsumed rest of the first piece given again with the second, as a connection's
// buffer does), must end in the same place with the same verdict.
void chunked_body(std::string_view body, std::uint8_t seed) {
    const h1::ChunkedBody::Limits limits{.max_data = 4096, .max_line = 256, .max_trailers = 512};
    h1::ChunkedBody whole;
    const auto a = whole.feed(body, limits);
    FUZZ_CHECK(a.consumed <= body.size());
    FUZZ_CHECK(a.status != h1::ChunkedBody::Status::NeedMore || body.size() - a.consumed <= limits.max_line + 1);
    FUZZ_CHECK((a.status == h1::ChunkedBody::Status::Invalid) == (a.error != h1::ParseError::None));
    FUZZ_CHECK(whole.data_bytes() <= limits.max_data);
    h1::ChunkedBody split;
    const std::size_t cut = seed % (body.size() + 1);
    auto b = split.feed(body.substr(0, cut), limits);
    std::size_t used = b.consumed;
    if (b.status == h1::ChunkedBody::Status::NeedMore) {
        b = split.feed(body.substr(used), limits);
        used += b.consumed;
    }
    FUZZ_CHECK(a.status == b.status);
    FUZZ_CHECK(a.error == b.error);
    FUZZ_CHECK(a.consumed == used);
}

// A normalised path starts with '/', has no empty, "." or ".." segment, no NUL, no
// backslash, and normalising it again changes nothing.
void uri_path(const std::uint8_t* data, std::size_t size) {
    const std::string raw = "/" + std::string(reinterpret_cast<const char*>(data), size);
    NormalPath out;
    if (normalize_path(raw, out) != PathError::None) return;
    const std::string& p = out.path;
    FUZZ_CHECK(!p.empty() && p.front() == '/');
    FUZZ_CHECK(p.find("//") == std::string::npos);
    FUZZ_CHECK(p.find("/./") == std::string::npos && p.find("/../") == std::string::npos);
    FUZZ_CHECK(!p.ends_with("/.") && !p.ends_with("/.."));
    FUZZ_CHECK(p.size() == 1 || p.back() != '/');
    FUZZ_CHECK(p.find('\0') == std::string::npos && p.find('\\') == std::string::npos);
    FUZZ_CHECK(out.has_dot_segment == (p.find("/.") != std::string::npos));
    // Idempotent once '%' is escaped (a decoded '%' would decode again).
    if (p.find('%') == std::string::npos) {
        NormalPath again;
        FUZZ_CHECK(normalize_path(p, again) == PathError::None);
        FUZZ_CHECK(again.path == p);
    }
}

// Ranges are inside the file, sorted, apart, at most max_ranges, and never add up to
// more than the file: no request can multiply the work.
void byte_ranges(const std::uint8_t* data, std::size_t size) {
    if (size < 9) return;
    std::uint64_t file_size = 0;
    for (int i = 0; i < 8; ++i) file_size = file_size << 8 | data[i];
    if (data[8] & 1) file_size %= 1 << 20;  // half the time, realistic sizes
    const std::size_t max_ranges = data[8] % 32 + 1;
    const std::string_view header(reinterpret_cast<const char*>(data + 9), size - 9);
    std::vector<http::ByteRange> ranges;
    const auto outcome = http::parse_range(header, file_size, max_ranges, ranges);
    if (outcome != http::RangeOutcome::Satisfiable) {
        FUZZ_CHECK(ranges.empty());
        return;
    }
    FUZZ_CHECK(!ranges.empty() && ranges.size() <= max_ranges);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        FUZZ_CHECK(ranges[i].first <= ranges[i].last && ranges[i].last < file_size);
        if (i > 0) FUZZ_CHECK(ranges[i].first > ranges[i - 1].last + 1);
        total += ranges[i].length();
    }
    FUZZ_CHECK(total <= file_size);
}

namespace {

// A worker's services over a document root with a small and a large file, made once,
// with an h2c listener and a low flood limit the fuzzer can reach.
struct H2Fixture : test::SessionParts {
    H2Fixture() {
        dir.write("a.txt", "small file\n");
        dir.write("big.bin", std::string(40000, 'b'));  // sent as file ranges, several DATA frames
        listeners[0].h2c = true;
        services.h2.settings.max_control_frames_per_second = 50;
    }
};

// Walks the frames the session wrote: each header's length must fit the bytes that
// follow and the default maximum frame size, and the first frame is SETTINGS.
void check_frames(std::string_view out) {
    bool first = true;
    while (out.size() >= 9) {
        const std::size_t length = (static_cast<std::size_t>(static_cast<unsigned char>(out[0])) << 16) |
                                   (static_cast<std::size_t>(static_cast<unsigned char>(out[1])) << 8) |
                                   static_cast<unsigned char>(out[2]);
        FUZZ_CHECK(length <= 16384);
        if (first) FUZZ_CHECK(out[3] == 0x4);  // the server's SETTINGS
        first = false;
        if (out.size() < 9 + length) return;  // the last frame may be cut by a write that stopped
        out.remove_prefix(9 + length);
    }
}

}  // namespace

// Input: one byte for the size of the pieces reads hand out, one for the length of the
// write script at the end, then the frames.
void h2_session(const std::uint8_t* data, std::size_t size) {
    static H2Fixture fixture;
    if (size < 2) return;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t piece = data[0] > 0 ? data[0] : 256;
    const std::size_t script_length = std::min<std::size_t>(data[1], size - 2);
    const std::string_view frames = input.substr(2, size - 2 - script_length);
    test::FakeTransport transport;
    transport.drains = false;
    transport.write_script = std::string(input.substr(size - script_length));
    for (std::size_t at = 0; at < frames.size(); at += piece) transport.reads.emplace_back(frames.substr(at, piece));
    TimerNode timer;
    const PeerAddress peer{};
    H2Context c{{transport, timer, peer, 1, fixture.listeners[0], fixture.services.session}, fixture.services.h2};
    H2Session session;
    session.start("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", c);
    for (int turn = 0; turn < 200 && !session.closed(); ++turn) {
        if (session.wants_turn())
            session.resume(c);
        else
            session.on_ready(true, true, transport.reads.empty() && turn > 100, c);
        fixture.services.session.now_ms += 10;
    }
    if (!session.closed()) session.on_timeout(TimerKind::KeepAlive, c);
    if (!session.closed()) session.abort(c);
    FUZZ_CHECK(session.closed());
    fixture.timers.disarm(timer);
    check_frames(transport.sent);
}

}  // namespace pywebd::fuzz
