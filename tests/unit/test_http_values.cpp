// Small value grammars: HTTP dates, entity tags, MIME lookup.
#include <gtest/gtest.h>

#include <array>

#include "h1/head_parser.hpp"
#include "http/authority.hpp"
#include "http/entity_tag.hpp"
#include "http/field_block.hpp"
#include "http/file_facts.hpp"
#include "http/http_date.hpp"
#include "mime_types.hpp"
#include "temp_dir.hpp"

namespace pywebd::http {
namespace {

constexpr std::time_t kNov6_1994 = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

TEST(HttpDate, FormatsImfFixdate) {
    char out[kHttpDateLength];
    EXPECT_EQ(std::string_view(out, format_http_date(kNov6_1994, out)), "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(std::string_view(out, format_http_date(0, out)), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(HttpDate, ParsesAllThreeForms) {
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), kNov6_1994);
    EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), kNov6_1994);
    EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), kNov6_1994);
}

TEST(HttpDate, RefusesNearMisses) {
    for (const char* bad :
         {"", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
          "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
          "Sun, 06 Nov 1994 08:49:37 GMT ", "06 Nov 1994", "Sun, 06 Nov 1969 08:49:37 GMT"}) {
        EXPECT_FALSE(parse_http_date(bad)) << bad;
    }
}

TEST(HttpDate, RoundTrip) {
    char out[kHttpDateLength];
    for (std::time_t t : {std::time_t{0}, std::time_t{951782400} /* 29 Feb 2000 */, std::time_t{4102444799}}) {
        EXPECT_EQ(parse_http_date(std::string_view(out, format_http_date(t, out))), t);
    }
}

Request request_with(std::array<Header, 4>& storage, std::string_view name, std::string_view value) {
    storage[0] = {"Host", "a"};
    storage[1] = {name, value};
    Request request;
    request.fields = std::span<const Header>(storage.data(), 2);
    return request;
}

TEST(EntityTag, ListMatching) {
    struct M {
        const char* value;
        bool weak;
        bool match;
    };
    const M table[] = {
        {"\"abc\"", true, true},        {"\"abc\"", false, true},
        {"W/\"abc\"", true, true},    // weak comparison ignores W/
        {"W/\"abc\"", false, false},  // strong comparison never matches a weak tag
        {"\"x\", \"abc\"", true, true}, {"\"x\" , W/\"y\",\"abc\"", true, true},
        {"\"x\", \"y\"", true, false},  {"*", false, true},
        {"\"a,bc\"", true, false},  // commas inside tags are part of the tag
        {"abc", true, false},       // unquoted: malformed, matches nothing
        {"\"abc", true, false},         {"\"abc\" junk", true, false},
    };
    for (const M& m : table) {
        SCOPED_TRACE(m.value);
        std::array<Header, 4> storage{};
        const Request request = request_with(storage, "If-None-Match", m.value);
        EXPECT_EQ(entity_tag_list_matches(request, "if-none-match", "abc", m.weak), m.match);
    }
}

TEST(FieldBlock, HttpOneTextAndPairsOfTheSameFields) {
    FieldBlock block;
    block.add("Content-Length", std::uint64_t{1234});
    block.add_date("Last-Modified", 784111777);
    block.add_content_range(0, 9, 10);
    FieldBlock more;
    more.add("Vary", "Accept-Encoding");
    for (int i = 0; i < 50; ++i) more.add("X-Fill", std::string(40, 'f'));  // grows and moves the text
    block.add_all(more);
    EXPECT_TRUE(
        block.h1_text().starts_with("Content-Length: 1234\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                                    "Content-Range: bytes 0-9/10\r\nVary: Accept-Encoding\r\nX-Fill: fff"));
    ASSERT_EQ(block.size(), 54u);
    EXPECT_EQ(block[0].name, "Content-Length");
    EXPECT_EQ(block[0].value, "1234");
    EXPECT_EQ(block[2].value, "bytes 0-9/10");
    EXPECT_EQ(block[3].name, "Vary");  // shifted by add_all
    EXPECT_EQ(block[3].value, "Accept-Encoding");
    EXPECT_EQ(block[53].value, std::string(40, 'f'));
    block.clear();
    EXPECT_TRUE(block.empty());
    EXPECT_EQ(block.h1_text(), "");
}

TEST(EntityTag, ParseSingle) {
    std::string_view opaque;
    bool weak = false;
    EXPECT_TRUE(parse_entity_tag("W/\"v1\"", opaque, weak));
    EXPECT_TRUE(weak);
    EXPECT_EQ(opaque, "v1");
    EXPECT_FALSE(parse_entity_tag("\"a\" \"b\"", opaque, weak));
    EXPECT_FALSE(parse_entity_tag("Sun, 06 Nov 1994 08:49:37 GMT", opaque, weak));
}

TEST(EntityTag, ChangesWithAnyIdentityField) {
    const FileFacts base{100, 1000, 5, 42};
    const std::string tag(make_etag(base).view());
    EXPECT_EQ(tag.front(), '"');
    EXPECT_EQ(tag.back(), '"');
    for (FileFacts changed : {FileFacts{101, 1000, 5, 42}, FileFacts{100, 1001, 5, 42}, FileFacts{100, 1000, 6, 42},
                              FileFacts{100, 1000, 5, 43}})
        EXPECT_NE(std::string(make_etag(changed).view()), tag);
}

TEST(MimeTypes, SystemTableAndCharset) {
    const MimeTypes mime = MimeTypes::load("/etc/mime.types", "utf-8");
    EXPECT_EQ(mime.lookup("index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(mime.lookup("/a/b/STYLE.CSS"), "text/css; charset=utf-8");
    EXPECT_EQ(mime.lookup("app.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(mime.lookup("data.json"), "application/json; charset=utf-8");
    EXPECT_EQ(mime.lookup("logo.png"), "image/png");
    EXPECT_EQ(mime.lookup("logo.svg"), "image/svg+xml; charset=utf-8");
    EXPECT_EQ(mime.lookup("noextension"), "application/octet-stream");
    EXPECT_EQ(mime.lookup("trailingdot."), "application/octet-stream");
    EXPECT_EQ(mime.lookup("dir.d/file"), "application/octet-stream");
    EXPECT_EQ(mime.lookup("x.averyveryverylongextension"), "application/octet-stream");
    if (mime.loaded_file()) {
        EXPECT_GT(mime.size(), 500u);  // every extension of /etc/mime.types
        EXPECT_EQ(mime.lookup("a.odt"), "application/vnd.oasis.opendocument.text");
    }
}

TEST(MimeTypes, BuiltInWhenFileMissingAndNoCharset) {
    test::TempDir dir;
    const MimeTypes mime = MimeTypes::load(dir.path() / "absent", "");
    EXPECT_FALSE(mime.loaded_file());
    EXPECT_EQ(mime.lookup("a.html"), "text/html");
    EXPECT_EQ(mime.lookup("a.woff2"), "font/woff2");
}

TEST(MimeTypes, ReadsCustomFile) {
    test::TempDir dir;
    const auto file = dir.write("mime.types", "# comment\ntext/x-custom  cst cst2  # trailing\n\nbroken\n");
    const MimeTypes mime = MimeTypes::load(file, "latin1");
    EXPECT_EQ(mime.lookup("a.cst2"), "text/x-custom; charset=latin1");
}

}  // namespace
}  // namespace pywebd::http

namespace pywebd::http {
namespace {

TEST(Authority, HostOfKeepsNamesAndLiteralsDropsThePort) {
    const std::pair<std::string_view, std::string_view> good[] = {{"example.com", "example.com"},
                                                                  {"example.com:8080", "example.com"},
                                                                  {"[::1]:80", "[::1]"},
                                                                  {"[2001:db8::1]", "[2001:db8::1]"},
                                                                  {"127.0.0.1:65535", "127.0.0.1"},
                                                                  {"my_host-1.example", "my_host-1.example"},
                                                                  {"[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]"}};
    for (const auto& [authority, host] : good) EXPECT_EQ(host_of(authority), host) << authority;
    for (const char* bad : {"", ":80", "[::1", "::1", "a:b", "a:0", "a:99999", "a:", "[::1]x", "[::1]:", "[]", "[v1.x]",
                            "a%41.b", "a b", "a:80:80", "user@host"})
        EXPECT_FALSE(host_of(bad)) << bad;
}

}  // namespace
}  // namespace pywebd::http
