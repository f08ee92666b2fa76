#include "admin/metrics_text.hpp"

#include <nghttp2/nghttp2.h>
#include <nghttp2/nghttp2ver.h>
#include <openssl/crypto.h>

#include <fmt/format.h>

#include <array>
#include <iterator>

#include "version.hpp"

namespace pywebd {
namespace {

constexpr std::array<const char*, kMetricProtocols> kProtocolNames = {"http1", "http2"};
constexpr std::array<const char*, kStatusClasses> kClassNames = {"1xx", "2xx", "3xx", "4xx", "5xx"};

// The workers' slots added up, read once each.
struct Totals {
    std::uint64_t requests[kMetricProtocols][kStatusClasses] = {};
    std::uint64_t response_bytes[kMetricProtocols] = {};
    std::uint64_t duration[kDurationBucketsUs.size() + 1] = {};
    std::uint64_t duration_sum_us = 0;
    std::uint64_t accepted = 0, active = 0, idle = 0;
    std::uint64_t tls_full = 0, tls_resumed = 0, tls_failed = 0;
    std::uint64_t h2_streams = 0, h2_goaways = 0;
    std::uint64_t file_hits = 0, file_misses = 0, compression_hits = 0, compression_misses = 0;

    void add(const WorkerCounters& w) {
        for (std::size_t p = 0; p < kMetricProtocols; ++p) {
            for (std::size_t c = 0; c < kStatusClasses; ++c) requests[p][c] += w.requests[p][c].get();
            response_bytes[p] += w.response_bytes[p].get();
        }
        for (std::size_t b = 0; b < std::size(duration); ++b) duration[b] += w.duration[b].get();
        duration_sum_us += w.duration_sum_us.get();
        accepted += w.connections_accepted.get();
        active += w.connections_active.get();
        idle += w.connections_idle.get();
        tls_full += w.tls_full.get();
        tls_resumed += w.tls_resumed.get();
        tls_failed += w.tls_failed.get();
        h2_streams += w.h2_streams.get();
        h2_goaways += w.h2_goaways.get();
        file_hits += w.file_cache_hits.get();
        file_misses += w.file_cache_misses.get();
        compression_hits += w.compression_cache_hits.get();
        compression_misses += w.compression_cache_misses.get();
    }
};

Totals sum_slots(const MetricsSegment& segment) {
    Totals totals;
    const std::size_t used = std::min(segment.slots_used(), MetricsSegment::kSlots);
    for (std::size_t i = 0; i < used; ++i) totals.add(segment.slot(i));
    return totals;
}

// A label value, escaped as the format asks (backslash, quote, newline).
std::string label(std::string_view value) {
    std::string out;
    for (char ch : value) {
        if (ch == '\\' || ch == '"') out.push_back('\\');
        if (ch == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(ch);
    }
    return out;
}

class Writer {
public:
    void header(std::string_view name, std::string_view type, std::string_view help) {
        fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    void sample(std::string_view name, std::uint64_t value) {
        fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    }
    void sample(std::string_view name, std::string_view labels, std::uint64_t value) {
        fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
    }
    void seconds(std::string_view name, std::uint64_t micros) {
        fmt::format_to(std::back_inserter(out_), "{} {}.{:06}\n", name, micros / 1'000'000, micros % 1'000'000);
    }
    void one(std::string_view name, std::string_view type, std::string_view help, std::uint64_t value) {
        header(name, type, help);
        sample(name, value);
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

void write_requests(Writer& w, const Totals& t) {
    w.header("pywebd_http_requests_total", "counter", "Responses sent, by protocol and status class.");
    for (std::size_t p = 0; p < kMetricProtocols; ++p)
        for (std::size_t c = 0; c < kStatusClasses; ++c)
            w.sample("pywebd_http_requests_total",
                     fmt::format("protocol=\"{}\",code=\"{}\"", kProtocolNames[p], kClassNames[c]), t.requests[p][c]);
    w.header("pywebd_http_response_body_bytes_total", "counter", "Response body bytes sent, by protocol.");
    for (std::size_t p = 0; p < kMetricProtocols; ++p)
        w.sample("pywebd_http_response_body_bytes_total", fmt::format("protocol=\"{}\"", kProtocolNames[p]),
                 t.response_bytes[p]);
    w.header("pywebd_http_request_duration_seconds", "histogram",
             "Time from a request's head to its response's last byte handed to the kernel.");
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < kDurationBucketsUs.size(); ++b) {
        cumulative += t.duration[b];
        const std::uint64_t us = kDurationBucketsUs[b];
        w.sample("pywebd_http_request_duration_seconds_bucket",
                 fmt::format("le=\"{}.{:06}\"", us / 1'000'000, us % 1'000'000), cumulative);
    }
    cumulative += t.duration[kDurationBucketsUs.size()];
    w.sample("pywebd_http_request_duration_seconds_bucket", "le=\"+Inf\"", cumulative);
    w.seconds("pywebd_http_request_duration_seconds_sum", t.duration_sum_us);
    w.sample("pywebd_http_request_duration_seconds_count", cumulative);
}

void write_connections(Writer& w, const Totals& t) {
    w.one("pywebd_connections_accepted_total", "counter", "Client connections accepted.", t.accepted);
    w.one("pywebd_connections_active", "gauge", "Client connections open.", t.active);
    w.one("pywebd_connections_idle", "gauge", "Open connections between requests (sampled each second).", t.idle);
    w.header("pywebd_tls_handshakes_total", "counter", "TLS handshakes by result.");
    w.sample("pywebd_tls_handshakes_total", "result=\"full\"", t.tls_full);
    w.sample("pywebd_tls_handshakes_total", "result=\"resumed\"", t.tls_resumed);
    w.sample("pywebd_tls_handshakes_total", "result=\"failed\"", t.tls_failed);
    w.one("pywebd_http2_streams_total", "counter", "HTTP/2 request streams opened by clients.", t.h2_streams);
    w.one("pywebd_http2_goaways_sent_total", "counter", "HTTP/2 GOAWAY frames sent.", t.h2_goaways);
}

void write_caches(Writer& w, const Totals& t) {
    w.one("pywebd_file_cache_hits_total", "counter", "Requests answered from the open-file cache.", t.file_hits);
    w.one("pywebd_file_cache_misses_total", "counter", "Requests that looked a path up on disk.", t.file_misses);
    w.one("pywebd_compression_cache_hits_total", "counter", "Compressed variants served from the cache.",
          t.compression_hits);
    w.one("pywebd_compression_cache_misses_total", "counter",
          "Responses (HEAD included) whose compressed variant was not in the cache.", t.compression_misses);
}

void write_master(Writer& w, const MasterCounters& m, const BuildInfo& build) {
    w.header("pywebd_worker_restarts_total", "counter", "Workers replaced after an exit the master did not ask for.");
    for (std::size_t cause = 0; cause < kRestartCauses; ++cause)
        w.sample("pywebd_worker_restarts_total", fmt::format("cause=\"{}\"", kRestartCauseNames[cause]),
                 m.restarts[cause].get());
    w.header("pywebd_config_reloads_total", "counter", "Configuration reloads by result.");
    w.sample("pywebd_config_reloads_total", "result=\"ok\"", m.reloads_ok.get());
    w.sample("pywebd_config_reloads_total", "result=\"failed\"", m.reloads_failed.get());
    w.one("pywebd_generation", "gauge", "The serving generation of workers (1 at start, one more per reload).",
          m.generation.get());
    w.one("pywebd_workers", "gauge", "Workers the serving configuration asks for.", m.workers_configured.get());
    w.one("pywebd_workers_ready", "gauge", "Workers of the serving generation that are accepting.",
          m.workers_ready.get());
    w.header("pywebd_config_last_load_timestamp_seconds", "gauge", "When the configuration serving now was read.");
    w.seconds("pywebd_config_last_load_timestamp_seconds", m.config_loaded_unix_ms.get() * 1000);
    w.header("pywebd_config_load_duration_seconds", "gauge", "How long reading and checking that configuration took.");
    w.seconds("pywebd_config_load_duration_seconds", m.config_load_us.get());
    w.header("pywebd_start_time_seconds", "gauge", "When the master started.");
    w.seconds("pywebd_start_time_seconds", m.started_unix_ms.get() * 1000);
    w.header("pywebd_build_info", "gauge", "The versions of pywebd and its libraries; always 1.");
    w.sample("pywebd_build_info",
             fmt::format("version=\"{}\",openssl=\"{}\",nghttp2=\"{}\"", label(build.version), label(build.openssl),
                         label(build.nghttp2)),
             1);
}

}  // namespace

BuildInfo build_info() {
    const nghttp2_info* nghttp2 = nghttp2_version(0);
    return {kVersion, OpenSSL_version(OPENSSL_VERSION_STRING), nghttp2 ? nghttp2->version_str : NGHTTP2_VERSION};
}

std::string render_metrics(const MetricsSegment& segment, const BuildInfo& build) {
    const Totals totals = sum_slots(segment);
    Writer w;
    write_requests(w, totals);
    write_connections(w, totals);
    write_caches(w, totals);
    write_master(w, segment.master(), build);
    return w.take();
}

Health health_of(const MasterCounters& master) {
    switch (static_cast<HealthState>(master.health.get())) {
    case HealthState::Starting: return {503, "starting"};
    case HealthState::Stopping: return {503, "draining"};
    case HealthState::Serving: break;
    }
    if (master.workers_ready.get() == 0) return {503, "no worker ready"};
    return {200, "ok"};
}

}  // namespace pywebd
