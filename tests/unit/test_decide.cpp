// The file-serving decision as a pure function: preconditions (RFC 9110 §13.2.2) and
// ranges (§14), as tables.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "http/byte_ranges.hpp"
#include "http/decide.hpp"
#include "http/http_date.hpp"

namespace pywebd::http {
namespace {

constexpr std::uint64_t kSize = 1000;

TEST(ByteRanges, Table) {
    struct R {
        const char* value;
        RangeOutcome outcome;
        std::vector<ByteRange> ranges;
    };
    const R table[] = {
        {"bytes=0-499", RangeOutcome::Satisfiable, {{0, 499}}},
        {"bytes=500-", RangeOutcome::Satisfiable, {{500, 999}}},
        {"bytes=-200", RangeOutcome::Satisfiable, {{800, 999}}},
        {"bytes=-5000", RangeOutcome::Satisfiable, {{0, 999}}},
        {"bytes=900-5000", RangeOutcome::Satisfiable, {{900, 999}}},
        {"bytes=0-0,-1", RangeOutcome::Satisfiable, {{0, 0}, {999, 999}}},
        {"BYTES=1-2", RangeOutcome::Satisfiable, {{1, 2}}},
        {"bytes= 1-2 , 4-5 ", RangeOutcome::Satisfiable, {{1, 2}, {4, 5}}},
        {"bytes=1-2,,4-5", RangeOutcome::Satisfiable, {{1, 2}, {4, 5}}},
        // Overlapping, adjacent or unordered: merged, sorted.
        {"bytes=0-10,5-20", RangeOutcome::Satisfiable, {{0, 20}}},
        {"bytes=0-10,11-20", RangeOutcome::Satisfiable, {{0, 20}}},
        {"bytes=50-60,0-10", RangeOutcome::Satisfiable, {{0, 10}, {50, 60}}},
        {"bytes=0-,0-,0-,0-,0-", RangeOutcome::Satisfiable, {{0, 999}}},
        {"bytes=1000-,0-1", RangeOutcome::Satisfiable, {{0, 1}}},  // the unsatisfiable one is dropped
        // Unsatisfiable: 416.
        {"bytes=1000-", RangeOutcome::Unsatisfiable, {}},
        {"bytes=1000-2000", RangeOutcome::Unsatisfiable, {}},
        {"bytes=-0", RangeOutcome::Unsatisfiable, {}},
        {"bytes=99999999999999999999999-", RangeOutcome::Unsatisfiable, {}},  // saturates, no overflow
        // Ignored: whole file.
        {"bytes=5-1", RangeOutcome::Ignore, {}},
        {"bytes=", RangeOutcome::Ignore, {}},
        {"bytes=a-b", RangeOutcome::Ignore, {}},
        {"bytes=1-2-3", RangeOutcome::Ignore, {}},
        {"bytes 1-2", RangeOutcome::Ignore, {}},
        {"items=1-2", RangeOutcome::Ignore, {}},
        {"bytes=--1", RangeOutcome::Ignore, {}},
        {"bytes=1", RangeOutcome::Ignore, {}},
    };
    std::vector<ByteRange> out;
    for (const R& r : table) {
        SCOPED_TRACE(r.value);
        EXPECT_EQ(parse_range(r.value, kSize, 16, out), r.outcome);
        EXPECT_EQ(out, r.ranges);
    }
}

TEST(ByteRanges, LastPosSaturatesToFileEnd) {
    std::vector<ByteRange> out;
    ASSERT_EQ(parse_range("bytes=10-18446744073709551615", kSize, 16, out), RangeOutcome::Satisfiable);
    EXPECT_EQ(out, (std::vector<ByteRange>{{10, 999}}));
    ASSERT_EQ(parse_range("bytes=10-99999999999999999999999999", kSize, 16, out), RangeOutcome::Satisfiable);
    EXPECT_EQ(out, (std::vector<ByteRange>{{10, 999}}));
}

TEST(ByteRanges, EmptyFileIsUnsatisfiable) {
    std::vector<ByteRange> out;
    EXPECT_EQ(parse_range("bytes=0-", 0, 16, out), RangeOutcome::Unsatisfiable);
    EXPECT_EQ(parse_range("bytes=-1", 0, 16, out), RangeOutcome::Unsatisfiable);
}

TEST(ByteRanges, TooManyPartsSendTheWholeFile) {
    std::string many = "bytes=";
    for (int i = 0; i < 20; ++i) many += std::to_string(i * 10) + "-" + std::to_string(i * 10 + 1) + ",";
    std::vector<ByteRange> out;
    EXPECT_EQ(parse_range(many, kSize, 16, out), RangeOutcome::Ignore);
    EXPECT_EQ(parse_range(many, kSize, 20, out), RangeOutcome::Satisfiable);
    EXPECT_EQ(out.size(), 20u);
}

TEST(ByteRanges, ApacheKillerCollapses) {
    // The 2011 "Apache killer" header: "bytes=0-,5-0,5-1,…". Its inverted specs make it
    // invalid, so the whole file goes out once.
    std::string killer = "bytes=0-";
    for (int i = 0; i < 1300; ++i) killer += ",5-" + std::to_string(i);
    std::vector<ByteRange> out;
    EXPECT_EQ(parse_range(killer, kSize, 16, out), RangeOutcome::Ignore);
    // The valid variant, hundreds of overlapping ranges, is merged into one.
    std::string overlapping = "bytes=0-";
    for (int i = 1; i < 1000; ++i) overlapping += ",5-" + std::to_string(5 + i);
    ASSERT_EQ(parse_range(overlapping, kSize, 16, out), RangeOutcome::Satisfiable);
    EXPECT_EQ(out, (std::vector<ByteRange>{{0, 999}}));
    // More specs than we read at all: refused outright, whatever they say.
    std::string endless = "bytes=0-0";
    for (int i = 0; i < 2000; ++i) endless += ",0-0";
    EXPECT_EQ(parse_range(endless, kSize, 16, out), RangeOutcome::Ignore);
}

// decide(): a head with the given fields against a fixed file.
class Decide : public testing::Test {
protected:
    static constexpr std::time_t kMtime = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
    const FileFacts file_{kSize, kMtime, 123456789, 77};
    const ETag etag_ = make_etag(file_);

    Outcome run(Method method, std::vector<Header> fields) {
        fields.insert(fields.begin(), Header{"Host", "a"});
        storage_ = std::move(fields);
        Request request;
        request.method = method;
        request.fields = storage_;
        FieldNotes notes;
        for (const Header& h : storage_) notes.note(h);
        notes.finish(request);
        return decide(request, file_, etag_, 16, ranges_);
    }
    struct Row {
        const char* name;
        Method method;
        std::vector<Header> fields;
        Outcome want;
    };
    void expect_rows(const std::vector<Row>& table) {
        for (const Row& row : table) {
            SCOPED_TRACE(row.name);
            EXPECT_EQ(run(row.method, row.fields), row.want);
        }
    }
    std::string tag() const { return std::string(etag_.view()); }
    std::string weak_tag() const { return "W/" + tag(); }

    std::vector<Header> storage_;
    std::vector<ByteRange> ranges_;
};

TEST_F(Decide, PreconditionMatrix) {
    const std::string t = tag(), w = weak_tag();
    const std::string listed = "\"b\", " + t;  // outlives the table, which holds views
    const std::string lm = "Sun, 06 Nov 1994 08:49:37 GMT";
    const std::string before = "Sat, 05 Nov 1994 08:49:37 GMT";
    const std::string after = "Mon, 07 Nov 1994 08:49:37 GMT";
    const std::vector<Row> table = {
        {"plain GET", Method::Get, {}, Outcome::Whole},
        {"INM matches", Method::Get, {{"If-None-Match", t}}, Outcome::NotModified},
        {"INM weak matches (weak comparison)", Method::Get, {{"If-None-Match", w}}, Outcome::NotModified},
        {"INM star", Method::Head, {{"If-None-Match", "*"}}, Outcome::NotModified},
        {"INM other", Method::Get, {{"If-None-Match", "\"other\""}}, Outcome::Whole},
        {"IMS equal", Method::Get, {{"If-Modified-Since", lm}}, Outcome::NotModified},
        {"IMS after", Method::Get, {{"If-Modified-Since", after}}, Outcome::NotModified},
        {"IMS before", Method::Get, {{"If-Modified-Since", before}}, Outcome::Whole},
        {"IMS invalid is ignored", Method::Get, {{"If-Modified-Since", "yesterday"}}, Outcome::Whole},
        {"INM present: IMS ignored",
         Method::Get,
         {{"If-None-Match", "\"other\""}, {"If-Modified-Since", after}},
         Outcome::Whole},
        {"IM matches", Method::Get, {{"If-Match", t}}, Outcome::Whole},
        {"IM star", Method::Get, {{"If-Match", "*"}}, Outcome::Whole},
        {"IM other", Method::Get, {{"If-Match", "\"other\""}}, Outcome::PreconditionFailed},
        {"IM weak never matches", Method::Get, {{"If-Match", w}}, Outcome::PreconditionFailed},
        {"IUS after", Method::Get, {{"If-Unmodified-Since", after}}, Outcome::Whole},
        {"IUS equal", Method::Get, {{"If-Unmodified-Since", lm}}, Outcome::Whole},
        {"IUS before", Method::Get, {{"If-Unmodified-Since", before}}, Outcome::PreconditionFailed},
        {"IM present: IUS ignored", Method::Get, {{"If-Match", t}, {"If-Unmodified-Since", before}}, Outcome::Whole},
        {"IM fails before INM",
         Method::Get,
         {{"If-Match", "\"x\""}, {"If-None-Match", t}},
         Outcome::PreconditionFailed},
        {"IUS fails before IMS",
         Method::Get,
         {{"If-Unmodified-Since", before}, {"If-Modified-Since", lm}},
         Outcome::PreconditionFailed},
        {"INM list across lines",
         Method::Get,
         {{"If-None-Match", "\"a\""}, {"If-None-Match", listed}},
         Outcome::NotModified},
    };
    expect_rows(table);
}

TEST_F(Decide, RangeMatrix) {
    const std::string t = tag();
    const std::string weak = "W/" + t;
    const std::string lm = "Sun, 06 Nov 1994 08:49:37 GMT";
    const std::vector<Row> table = {
        {"range", Method::Get, {{"Range", "bytes=0-9"}}, Outcome::Partial},
        {"range on HEAD ignored", Method::Head, {{"Range", "bytes=0-9"}}, Outcome::Whole},
        {"unsatisfiable", Method::Get, {{"Range", "bytes=5000-"}}, Outcome::RangeNotSatisfiable},
        {"If-Range etag holds", Method::Get, {{"Range", "bytes=0-9"}, {"If-Range", t}}, Outcome::Partial},
        {"If-Range etag stale", Method::Get, {{"Range", "bytes=0-9"}, {"If-Range", "\"old\""}}, Outcome::Whole},
        {"If-Range weak etag never holds", Method::Get, {{"Range", "bytes=0-9"}, {"If-Range", weak}}, Outcome::Whole},
        {"If-Range date holds", Method::Get, {{"Range", "bytes=0-9"}, {"If-Range", lm}}, Outcome::Partial},
        {"If-Range date differs",
         Method::Get,
         {{"Range", "bytes=0-9"}, {"If-Range", "Mon, 07 Nov 1994 08:49:37 GMT"}},
         Outcome::Whole},
        {"If-Range garbage", Method::Get, {{"Range", "bytes=0-9"}, {"If-Range", "whenever"}}, Outcome::Whole},
        {"304 wins over range", Method::Get, {{"Range", "bytes=0-9"}, {"If-None-Match", t}}, Outcome::NotModified},
        {"412 wins over 416",
         Method::Get,
         {{"Range", "bytes=5000-"}, {"If-Match", "\"x\""}},
         Outcome::PreconditionFailed},
    };
    expect_rows(table);
}

TEST_F(Decide, PartialCarriesRanges) {
    ASSERT_EQ(run(Method::Get, {{"Range", "bytes=0-9,20-29"}}), Outcome::Partial);
    EXPECT_EQ(ranges_, (std::vector<ByteRange>{{0, 9}, {20, 29}}));
}

}  // namespace
}  // namespace pywebd::http
