// The compression layer's parts: encoders, the variant cache, the options, a stream of
// slices, and the handler answering from the cache instead of compressing again.
#include <fcntl.h>
#include <gtest/gtest.h>

#include "compress/compression_cache.hpp"
#include "compress/compression_options.hpp"
#include "compress/encoder.hpp"
#include "compress/encoding_stream.hpp"
#include "decode.hpp"
#include "h1/head_parser.hpp"
#include "h1/head_scanner.hpp"
#include "h1/request_framing.hpp"
#include "h1/response_head.hpp"
#include "static/static_handler.hpp"
#include "temp_dir.hpp"

namespace pywebd {
namespace {

constexpr http::Coding kCodings[] = {http::Coding::Br, http::Coding::Zstd, http::Coding::Gzip};

std::string sample_text(std::size_t size) {
    std::string out;
    for (std::size_t i = 0; out.size() < size; ++i) out += "line " + std::to_string(i % 977) + " of the sample\n";
    out.resize(size);
    return out;
}

TEST(Encoder, FlushedPiecesDecodeToTheInputInEveryCoding) {
    const std::string input = sample_text(300'000);
    for (const http::Coding coding : kCodings) {
        SCOPED_TRACE(http::coding_token(coding));
        auto encoder = Encoder::create(coding, input.size());
        ASSERT_TRUE(encoder);
        std::string out;
        std::size_t pieces = 0;
        for (std::size_t at = 0; at < input.size(); at += 70'000) {
            const std::size_t before = out.size();
            const bool last = at + 70'000 >= input.size();
            ASSERT_TRUE(encoder->encode(std::string_view(input).substr(at, 70'000), last, out));
            EXPECT_GT(out.size(), before);  // every piece makes output: the client sees progress
            ++pieces;
        }
        EXPECT_EQ(pieces, 5u);
        EXPECT_LT(out.size(), input.size() / 4);
        EXPECT_EQ(test::decode(http::coding_token(coding), out), input);
        std::string whole;
        ASSERT_TRUE(compress_whole(coding, input, whole));
        EXPECT_EQ(test::decode(http::coding_token(coding), whole), input);
        std::string empty;
        ASSERT_TRUE(compress_whole(coding, "", empty));
        EXPECT_EQ(test::decode(http::coding_token(coding), empty), "");
    }
}

TEST(CompressionCache, KeepsTheRecentlyUsedWithinItsBudget) {
    CompressionCache cache(8000);  // an entry may take 1000 bytes
    const auto bytes = [](std::size_t n) { return std::make_shared<const std::string>(n, 'x'); };
    const auto version = [](std::uint64_t inode) {
        FileVersion v;
        v.inode = inode;
        v.size = 4000;
        return v;
    };
    for (std::uint64_t i = 1; i <= 8; ++i) cache.insert(version(i), http::Coding::Br, bytes(1000));
    EXPECT_EQ(cache.bytes(), 8000u);
    EXPECT_TRUE(cache.find(version(1), http::Coding::Br));     // now the most recent
    EXPECT_FALSE(cache.find(version(1), http::Coding::Gzip));  // another coding is another variant
    cache.insert(version(9), http::Coding::Br, bytes(1000));
    EXPECT_EQ(cache.bytes(), 8000u);
    EXPECT_TRUE(cache.find(version(1), http::Coding::Br));
    EXPECT_FALSE(cache.find(version(2), http::Coding::Br));    // the least recently used went
    cache.insert(version(10), http::Coding::Br, bytes(1001));  // more than an eighth: not kept
    EXPECT_FALSE(cache.find(version(10), http::Coding::Br));
    FileVersion changed = version(1);
    changed.mtime = 5;  // the file was rewritten: its old variant does not answer
    EXPECT_FALSE(cache.find(changed, http::Coding::Br));
    EXPECT_EQ(cache.hits(), 2u);
    EXPECT_EQ(cache.misses(), 4u);
    EXPECT_TRUE(cache.collects());
    EXPECT_FALSE(CompressionCache(0).collects());
}

TEST(CompressionOptions, TypesWithWildcardsParametersAndTheMinimumSize) {
    CompressionOptions options;
    options.enabled = true;
    options.types = {"text/*", "application/json", "image/svg+xml"};
    options.min_size = 100;
    EXPECT_TRUE(options.applies_to("text/html; charset=utf-8", 100));
    EXPECT_TRUE(options.applies_to("TEXT/CSS", 5000));
    EXPECT_TRUE(options.applies_to("application/json", 5000));
    EXPECT_TRUE(options.applies_to("image/svg+xml;charset=utf-8", 5000));
    EXPECT_FALSE(options.applies_to("text/html", 99));
    EXPECT_FALSE(options.applies_to("application/json-seq", 5000));
    EXPECT_FALSE(options.applies_to("image/png", 5000));
    EXPECT_FALSE(options.applies_to("textual/html", 5000));
    EXPECT_FALSE(options.applies_to("", 5000));
    options.enabled = false;
    EXPECT_FALSE(options.applies_to("text/html", 5000));
}

TEST(EncodingStream, SlicesAFileAndCachesTheResultWhenItFits) {
    test::TempDir dir;
    const std::string text = sample_text(EncodingStream::kSlice * 3 + 10);
    dir.write("f.txt", text);
    UniqueFd fd(::open((dir.path() / "f.txt").c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    ASSERT_EQ(::fstat(fd.get(), &st), 0);
    CompressionCache cache(16 << 20);
    EncodingStream stream(nullptr, fd.get(), FileVersion::from(st), http::Coding::Gzip, &cache);
    std::string out;
    int steps = 0;
    while (!stream.done()) {
        ASSERT_TRUE(stream.next(out));
        ++steps;
    }
    EXPECT_EQ(steps, 4);
    EXPECT_EQ(test::decode("gzip", out), text);
    const auto cached = cache.find(FileVersion::from(st), http::Coding::Gzip);
    ASSERT_TRUE(cached);
    EXPECT_EQ(*cached, out);

    // A file that shrinks under the stream: it says so rather than framing a short body.
    EncodingStream shrinking(nullptr, fd.get(), FileVersion::from(st), http::Coding::Br, &cache);
    ASSERT_TRUE(shrinking.next(out));
    ASSERT_EQ(::truncate((dir.path() / "f.txt").c_str(), 1000), 0);
    EXPECT_FALSE(shrinking.next(out));
    EXPECT_FALSE(cache.find(FileVersion::from(st), http::Coding::Br));
}

// A stream collects its output for the cache only up to what the cache can keep: a file
// that compresses badly (or not at all) must not be held whole in memory per stream.
TEST(EncodingStream, CollectsNoMoreThanTheCacheCanKeep) {
    test::TempDir dir;
    std::string noise(3 << 20, '\0');
    std::uint32_t state = 12345;
    for (char& byte : noise) byte = static_cast<char>((state = state * 1664525u + 1013904223u) >> 24);
    dir.write("noise.bmp", noise);
    UniqueFd fd(::open((dir.path() / "noise.bmp").c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    ASSERT_EQ(::fstat(fd.get(), &st), 0);
    CompressionCache cache(8 << 20);  // an entry may take 1 MiB; 3 MiB of input might have fit
    EncodingStream stream(nullptr, fd.get(), FileVersion::from(st), http::Coding::Gzip, &cache);
    std::string out;
    std::size_t most = 0;
    while (!stream.done()) {
        out.clear();
        ASSERT_TRUE(stream.next(out));
        most = std::max(most, stream.collected_bytes());
    }
    EXPECT_LE(most, (1u << 20) + EncodingStream::kSlice + 1024);
    EXPECT_FALSE(cache.find(FileVersion::from(st), http::Coding::Gzip));
}

// Only one stream at a time makes a given variant for the cache: after a deploy, a
// crowd asking for the same large file is not compressed (and held) once per client.
TEST(EncodingStream, OneStreamAtATimeMakesAVariant) {
    test::TempDir dir;
    const std::string text = sample_text(EncodingStream::kSlice * 3);
    dir.write("f.txt", text);
    UniqueFd fd(::open((dir.path() / "f.txt").c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    ASSERT_EQ(::fstat(fd.get(), &st), 0);
    CompressionCache cache(16 << 20);
    const FileVersion version = FileVersion::from(st);
    EXPECT_FALSE(cache.being_made(version, http::Coding::Br));
    {
        EncodingStream first(nullptr, fd.get(), version, http::Coding::Br, &cache);
        EXPECT_TRUE(cache.being_made(version, http::Coding::Br));
        EXPECT_FALSE(cache.being_made(version, http::Coding::Gzip));
        std::string out;
        ASSERT_TRUE(first.next(out));
    }  // given up half way (the client went away): another may make it
    EXPECT_FALSE(cache.being_made(version, http::Coding::Br));
    EncodingStream second(nullptr, fd.get(), version, http::Coding::Br, &cache);
    std::string out;
    while (!second.done()) ASSERT_TRUE(second.next(out));
    EXPECT_FALSE(cache.being_made(version, http::Coding::Br));
    EXPECT_TRUE(cache.find(version, http::Coding::Br));
}

// A variant found too large to keep while one stream made it is not collected by the
// next one (which would only hold megabytes to throw them away again).
TEST(EncodingStream, AVariantTooLargeToKeepIsNotCollectedAgain) {
    test::TempDir dir;
    const std::string text = sample_text(EncodingStream::kSlice * 8);
    dir.write("f.txt", text);
    UniqueFd fd(::open((dir.path() / "f.txt").c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    ASSERT_EQ(::fstat(fd.get(), &st), 0);
    CompressionCache cache(64 * 1024);  // an entry may take 8 KiB: the variant is larger
    std::string out;
    {
        EncodingStream first(nullptr, fd.get(), FileVersion::from(st), http::Coding::Gzip, &cache);
        ASSERT_TRUE(first.next(out));
        EXPECT_GT(first.collected_bytes(), 0u);
        while (!first.done()) ASSERT_TRUE(first.next(out));
    }
    EXPECT_TRUE(cache.known_too_large(FileVersion::from(st), http::Coding::Gzip));
    EncodingStream second(nullptr, fd.get(), FileVersion::from(st), http::Coding::Gzip, &cache);
    ASSERT_TRUE(second.next(out));
    EXPECT_EQ(second.collected_bytes(), 0u);
    EXPECT_FALSE(cache.being_made(FileVersion::from(st), http::Coding::Gzip));
}

// A worker's handler with compression on for text, over a directory of its own.
class CompressingHandler : public testing::Test {
protected:
    CompressingHandler() : root_(::open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {
        options_.compression.enabled = true;
        options_.compression.codings = {true, true, true};
        options_.compression.types = {"text/*"};
    }
    // Parses `raw` into request_ (its views point into raw_ and storage_).
    void parse(const std::string& raw) {
        raw_ = raw;
        ASSERT_EQ(h1::parse_head(raw_, {16, 1024}, storage_, head_), h1::ParseError::None);
        ASSERT_EQ(h1::analyze(head_, request_, message_), h1::ParseError::None);
    }

    test::TempDir dir_;
    UniqueFd root_;
    MimeTypes mime_ = MimeTypes::load("/etc/mime.types", "utf-8");
    DateCache date_{"pywebd/test"};
    ErrorPages pages_;
    Logger log_{"test"};
    ServeOptions options_;
    std::string raw_;
    std::array<http::Header, 16> storage_{};
    h1::RequestHead head_;
    http::Request request_;
    h1::MessageFacts message_;
};

// The second request for a variant is answered from the worker's cache: nothing is
// compressed again.
TEST_F(CompressingHandler, ASecondRequestIsACacheHit) {
    dir_.write("app.js", sample_text(30'000));
    StaticHandler handler(mime_, date_, pages_, "XYZ", log_, 1 << 20);
    Site site{root_.get(), options_, FileCache(100, std::chrono::seconds(1))};
    parse("GET /app.js HTTP/1.1\r\nHost: a\r\nAccept-Encoding: br\r\n\r\n");
    std::string bodies[2];
    for (std::string& body : bodies) {
        Response response;
        handler.handle(site, request_, 0, response);
        ASSERT_EQ(response.status, 200);
        ASSERT_EQ(response.segments.size(), 1u);
        body.assign(response.segments[0].data, response.segments[0].length);
    }
    EXPECT_EQ(handler.compressed().misses(), 1u);
    EXPECT_EQ(handler.compressed().hits(), 1u);
    EXPECT_EQ(handler.compressed().entries(), 1u);
    EXPECT_EQ(bodies[0], bodies[1]);
    EXPECT_EQ(test::decode("br", bodies[0]), sample_text(30'000));
}

// Past kMaxStreams files being compressed while sent, a response goes out as the file
// is: each stream holds megabytes of coder state, and a client opening many must not
// make the worker hold them all.
TEST_F(CompressingHandler, StreamsPerWorkerAreBounded) {
    dir_.write("big.txt", sample_text(200'000));
    StaticHandler handler(mime_, date_, pages_, "XYZ", log_, 0);  // nothing cached: every response streams
    Site site{root_.get(), options_, FileCache(100, std::chrono::seconds(1))};
    parse("GET /big.txt HTTP/1.1\r\nHost: a\r\nAccept-Encoding: zstd\r\n\r\n");
    std::vector<Response> held(StaticHandler::kMaxStreams + 1);
    for (Response& response : held) handler.handle(site, request_, 0, response);
    for (std::size_t i = 0; i < StaticHandler::kMaxStreams; ++i) EXPECT_TRUE(held[i].stream) << i;
    const Response& over = held.back();
    EXPECT_FALSE(over.stream);
    EXPECT_EQ(over.status, 200);
    ASSERT_EQ(over.segments.size(), 1u);
    EXPECT_EQ(over.segments[0].length, 200000u);  // the file itself
    // HEAD says what GET would: the file as it is, no Content-Encoding.
    parse("HEAD /big.txt HTTP/1.1\r\nHost: a\r\nAccept-Encoding: zstd\r\n\r\n");
    Response head;
    handler.handle(site, request_, 0, head);
    std::string text;
    h1::render_head(head, h1::ConnectionField::None, text);
    EXPECT_EQ(text.find("Content-Encoding"), std::string::npos) << text;
    EXPECT_NE(text.find("Content-Length: 200000\r\n"), std::string::npos) << text;
    // One stream made to its end frees its slot (and its coder) while its last bytes are
    // still being sent: the next may stream again.
    std::string out;
    while (!held[0].stream->done()) ASSERT_TRUE(held[0].stream->next(out));
    parse("GET /big.txt HTTP/1.1\r\nHost: a\r\nAccept-Encoding: zstd\r\n\r\n");
    Response again;
    handler.handle(site, request_, 0, again);
    EXPECT_TRUE(again.stream);
}

// Compressing a small file now is bounded per event-loop turn (kCompressNowPerTurn):
// past it a response goes out as the file is, so a burst of requests for files not yet
// compressed (pipelined, or many HTTP/2 streams) cannot hold the worker. A HEAD never
// compresses what is not made yet.
TEST_F(CompressingHandler, CompressingNowIsBoundedPerTurn) {
    for (int i = 0; i < 10; ++i) dir_.write("f" + std::to_string(i) + ".js", sample_text(20'000 + i));
    StaticHandler handler(mime_, date_, pages_, "XYZ", log_, 8 << 20);
    Site site{root_.get(), options_, FileCache(100, std::chrono::seconds(1))};
    parse("HEAD /f9.js HTTP/1.1\r\nHost: a\r\nAccept-Encoding: br\r\n\r\n");
    Response head;
    handler.handle(site, request_, 0, head);
    std::string text;
    h1::render_head(head, h1::ConnectionField::None, text);
    EXPECT_NE(text.find("Content-Encoding: br\r\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("Content-Length"), std::string::npos) << text;  // not made, so not known
    EXPECT_EQ(handler.compressed().entries(), 0u);
    std::size_t compressed = 0, streamed = 0;
    for (int i = 0; i < 9; ++i) {
        parse("GET /f" + std::to_string(i) + ".js HTTP/1.1\r\nHost: a\r\nAccept-Encoding: br\r\n\r\n");
        Response response;
        handler.handle(site, request_, 0, response);
        if (response.stream) {
            ++streamed;  // made while sent, a slice per connection per turn: delayed, not downgraded
            EXPECT_TRUE(response.segments.empty());
        } else if (response.segments.size() == 1 && response.segments[0].length < 20'000u) {
            ++compressed;
        }
    }
    EXPECT_EQ(compressed, StaticHandler::kCompressNowPerTurn);
    EXPECT_EQ(streamed, 9 - StaticHandler::kCompressNowPerTurn);
    // The streams' steps come from the worker's allowance for the turn too.
    std::size_t steps = 0;
    while (handler.take_step()) ++steps;
    EXPECT_EQ(steps, StaticHandler::kStreamStepsPerTurn);
    // HTTP/1.0 has no chunks: past the allowance its small file goes as it is, so that
    // the connection is kept.
    parse("GET /f7.js HTTP/1.0\r\nAccept-Encoding: br\r\nConnection: keep-alive\r\n\r\n");
    Response old;
    handler.handle(site, request_, 0, old);
    EXPECT_FALSE(old.stream);
    ASSERT_EQ(old.segments.size(), 1u);
    EXPECT_EQ(old.segments[0].length, 20'007u);
    handler.new_turn();
    parse("GET /f8.js HTTP/1.1\r\nHost: a\r\nAccept-Encoding: br\r\n\r\n");
    Response later;
    handler.handle(site, request_, 0, later);
    ASSERT_EQ(later.segments.size(), 1u);
    EXPECT_LT(later.segments[0].length, 20'000u);
}

// While one response makes a cacheable variant, others for it compress for their own
// clients without collecting: the variant is held once, and a slow first client does
// not keep everyone else from compression.
TEST_F(CompressingHandler, AVariantIsCollectedByOneStreamAtATime) {
    dir_.write("big.txt", sample_text(300'000));
    StaticHandler handler(mime_, date_, pages_, "XYZ", log_, 16 << 20);
    Site site{root_.get(), options_, FileCache(100, std::chrono::seconds(1))};
    parse("GET /big.txt HTTP/1.1\r\nHost: a\r\nAccept-Encoding: br\r\n\r\n");
    Response first, second;
    handler.handle(site, request_, 0, first);
    handler.handle(site, request_, 0, second);
    ASSERT_TRUE(first.stream);
    ASSERT_TRUE(second.stream);
    std::string out, other;
    ASSERT_TRUE(first.stream->next(out));
    ASSERT_TRUE(second.stream->next(other));
    EXPECT_GT(dynamic_cast<EncodingStream&>(*first.stream).collected_bytes(), 0u);
    EXPECT_EQ(dynamic_cast<EncodingStream&>(*second.stream).collected_bytes(), 0u);
    while (!first.stream->done()) ASSERT_TRUE(first.stream->next(out));
    Response third;
    handler.handle(site, request_, 0, third);
    ASSERT_EQ(third.segments.size(), 1u);  // from the cache now
    EXPECT_EQ(std::string_view(third.segments[0].data, third.segments[0].length), out);
}

}  // namespace
}  // namespace pywebd
