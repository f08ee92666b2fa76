#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "admin/metrics_text.hpp"
#include "metrics_segment.hpp"

namespace pywebd {
namespace {

MetricsSegment make_segment() {
    std::string error;
    auto segment = MetricsSegment::create(error);
    if (!segment) throw std::runtime_error(error);
    return std::move(*segment);
}

// "name{labels}" → value, for every sample line.
std::map<std::string, std::string> samples(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto space = line.rfind(' ');
        out[line.substr(0, space)] = line.substr(space + 1);
    }
    return out;
}

TEST(MetricsSegment, ARespawnedWorkerCarriesItsSlotOnAndGaugesAreZeroed) {
    MetricsSegment segment = make_segment();
    EXPECT_EQ(segment.slots_used(), 0u);
    const std::size_t first = segment.acquire();
    const std::size_t second = segment.acquire();
    EXPECT_EQ(first, 0u);
    EXPECT_EQ(second, 1u);
    EXPECT_EQ(segment.slots_used(), 2u);
    segment.slot(first).requests[0][1].add(7);
    segment.slot(first).connections_active.set(3);
    segment.slot(first).connections_idle.set(2);
    segment.release(first);  // the worker died
    EXPECT_EQ(segment.slot(first).connections_active.get(), 0u);
    EXPECT_EQ(segment.slot(first).connections_idle.get(), 0u);
    EXPECT_EQ(segment.acquire(), first);                      // its replacement takes the lowest free slot
    EXPECT_EQ(segment.slot(first).requests[0][1].get(), 7u);  // and counts on from there
    EXPECT_EQ(segment.acquire(), 2u);
    EXPECT_EQ(segment.slots_used(), 3u);
}

TEST(MetricsSegment, PastItsSlotsAWorkerGetsNoneAndAFreedOneIsReused) {
    MetricsSegment segment = make_segment();
    for (std::size_t i = 0; i < MetricsSegment::kSlots; ++i) ASSERT_EQ(segment.acquire(), i);
    EXPECT_EQ(segment.acquire(), MetricsSegment::kSlots);  // none: the worker counts for itself
    segment.release(MetricsSegment::kSlots);               // harmless
    EXPECT_EQ(segment.slots_used(), MetricsSegment::kSlots);
    segment.slot(17).requests[1][1].add(2);
    segment.release(17);
    EXPECT_EQ(segment.acquire(), 17u);
    const auto s = samples(render_metrics(segment, {"1.0", "ssl", "ng"}));
    EXPECT_EQ(s.at(R"(pywebd_http_requests_total{protocol="http2",code="2xx"})"), "2");
}

TEST(MetricsSegment, TheSegmentIsSharedAcrossFork) {
    MetricsSegment segment = make_segment();
    const std::size_t slot = segment.acquire();
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        segment.slot(slot).connections_accepted.add(41);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_EQ(segment.slot(slot).connections_accepted.get(), 41u);
}

TEST(MetricsText, SumsSlotsAndMakesTheHistogramCumulative) {
    MetricsSegment segment = make_segment();
    WorkerCounters& a = segment.slot(segment.acquire());
    WorkerCounters& b = segment.slot(segment.acquire());
    a.record(MetricProtocol::Http1, 200, 100, 50);        // on the first bound: le="0.000050"
    a.record(MetricProtocol::Http1, 404, 10, 51);         // just above it
    b.record(MetricProtocol::Http2, 304, 0, 2'000'000);   // 2 s
    b.record(MetricProtocol::Http2, 503, 5, 11'000'000);  // past 10 s: only +Inf
    b.record(MetricProtocol::Http1, 999, 1, 1);           // out of range: counted as 5xx
    a.tls_full.add(2);
    b.tls_resumed.add(1);
    b.tls_failed.add(4);
    segment.master().restarts[static_cast<std::size_t>(RestartCause::Killed)].add(3);
    segment.master().reloads_ok.add(2);
    segment.master().generation.set(3);
    segment.master().config_load_us.set(1'234);
    const std::string text = render_metrics(segment, {"0.9", "OpenSSL 3.0.0", "1.52.0"});
    const auto s = samples(text);
    EXPECT_EQ(s.at(R"(pywebd_http_requests_total{protocol="http1",code="2xx"})"), "1");
    EXPECT_EQ(s.at(R"(pywebd_http_requests_total{protocol="http1",code="4xx"})"), "1");
    EXPECT_EQ(s.at(R"(pywebd_http_requests_total{protocol="http1",code="5xx"})"), "1");
    EXPECT_EQ(s.at(R"(pywebd_http_requests_total{protocol="http2",code="3xx"})"), "1");
    EXPECT_EQ(s.at(R"(pywebd_http_requests_total{protocol="http2",code="5xx"})"), "1");
    EXPECT_EQ(s.at(R"(pywebd_http_response_body_bytes_total{protocol="http1"})"), "111");
    EXPECT_EQ(s.at(R"(pywebd_http_request_duration_seconds_bucket{le="0.000050"})"), "2");  // 50 µs and 1 µs
    EXPECT_EQ(s.at(R"(pywebd_http_request_duration_seconds_bucket{le="0.000100"})"), "3");
    EXPECT_EQ(s.at(R"(pywebd_http_request_duration_seconds_bucket{le="1.000000"})"), "3");
    EXPECT_EQ(s.at(R"(pywebd_http_request_duration_seconds_bucket{le="2.500000"})"), "4");
    EXPECT_EQ(s.at(R"(pywebd_http_request_duration_seconds_bucket{le="10.000000"})"), "4");
    EXPECT_EQ(s.at(R"(pywebd_http_request_duration_seconds_bucket{le="+Inf"})"), "5");
    EXPECT_EQ(s.at("pywebd_http_request_duration_seconds_count"), "5");
    EXPECT_EQ(s.at("pywebd_http_request_duration_seconds_sum"), "13.000102");
    EXPECT_EQ(s.at(R"(pywebd_tls_handshakes_total{result="full"})"), "2");
    EXPECT_EQ(s.at(R"(pywebd_tls_handshakes_total{result="resumed"})"), "1");
    EXPECT_EQ(s.at(R"(pywebd_tls_handshakes_total{result="failed"})"), "4");
    EXPECT_EQ(s.at(R"(pywebd_worker_restarts_total{cause="killed"})"), "3");
    EXPECT_EQ(s.at(R"(pywebd_worker_restarts_total{cause="crashed"})"), "0");
    EXPECT_EQ(s.at(R"(pywebd_config_reloads_total{result="ok"})"), "2");
    EXPECT_EQ(s.at("pywebd_generation"), "3");
    EXPECT_EQ(s.at("pywebd_config_load_duration_seconds"), "0.001234");
    EXPECT_EQ(s.at(R"(pywebd_build_info{version="0.9",openssl="OpenSSL 3.0.0",nghttp2="1.52.0"})"), "1");
    // Every family has its HELP and TYPE before its samples.
    for (const auto& [series, value] : s) {
        std::string family = series.substr(0, series.find('{'));
        for (const char* suffix : {"_bucket", "_sum", "_count"})
            if (family.starts_with("pywebd_http_request_duration_seconds") && family.ends_with(suffix))
                family.resize(family.size() - std::string_view(suffix).size());
        EXPECT_NE(text.find("# TYPE " + family + " "), std::string::npos) << family;
        EXPECT_NE(text.find("# HELP " + family + " "), std::string::npos) << family;
    }
}

TEST(MetricsText, LabelValuesAreEscaped) {
    MetricsSegment segment = make_segment();
    const auto s = samples(render_metrics(segment, {"1\"x\\y\nz", "s", "n"}));
    EXPECT_EQ(s.count(R"(pywebd_build_info{version="1\"x\\y\nz",openssl="s",nghttp2="n"})"), 1u);
}

TEST(Health, OkOnlyWhileServingWithAReadyWorker) {
    MetricsSegment segment = make_segment();
    MasterCounters& m = segment.master();
    struct Row {
        HealthState state;
        std::uint64_t ready;
        std::uint16_t status;
        const char* reason;
    };
    const Row table[] = {
        {HealthState::Starting, 0, 503, "starting"},       {HealthState::Starting, 2, 503, "starting"},
        {HealthState::Serving, 0, 503, "no worker ready"}, {HealthState::Serving, 1, 200, "ok"},
        {HealthState::Stopping, 2, 503, "draining"},
    };
    for (const Row& row : table) {
        m.health.set(static_cast<std::uint64_t>(row.state));
        m.workers_ready.set(row.ready);
        const Health health = health_of(m);
        EXPECT_EQ(health.status, row.status) << row.reason;
        EXPECT_STREQ(health.reason, row.reason);
    }
}

}  // namespace
}  // namespace pywebd
