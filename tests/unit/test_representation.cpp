// Content negotiation, per-path header rules and directory listings.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <array>
#include <filesystem>

#include "http/content_coding.hpp"
#include "static/directory_listing.hpp"
#include "static/header_rules.hpp"
#include "temp_dir.hpp"

namespace pywebd {
namespace {

std::string negotiated(std::string_view accept_encoding) {
    std::array<http::Header, 2> storage{{{"Host", "a"}, {"Accept-Encoding", accept_encoding}}};
    http::Request request;
    request.fields = storage;
    const http::CodingPreference p = http::negotiate_codings(request);
    std::string out;
    for (std::size_t i = 0; i < p.count; ++i)
        out += (out.empty() ? "" : ",") + std::string(http::coding_token(p.order[i].coding));
    return out;
}

TEST(Negotiation, AcceptEncodingMatrix) {
    struct Row {
        const char* header;
        const char* want;
    };
    const Row table[] = {
        {"gzip, deflate, br", "br,gzip"},
        {"gzip", "gzip"},
        {"br", "br"},
        {"identity", ""},
        {"", ""},
        {"gzip;q=1.0, br;q=0.5", "gzip,br"},
        {"br;q=0.8, gzip;q=0.8", "br,gzip"},  // a tie: brotli first
        {"br;q=0, gzip", "gzip"},             // q=0 refuses
        {"*", "br,zstd,gzip"},
        {"*;q=0.1, gzip", "gzip,br,zstd"},
        {"*, br;q=0", "zstd,gzip"},
        {"x-gzip", "gzip"},
        {"GZIP;Q=0.5", "gzip"},
        {"gzip;q=2", ""},  // invalid qvalue: element ignored
        {"gzip;q=0.1234", ""},
        {"gzip;level=9", ""},  // unknown parameter: ignored
        {"br ; q=0.001", "br"},
        {"deflate, compress", ""},
        // zstd (RFC 8878): after brotli, before gzip, on a tie.
        {"gzip, zstd, br", "br,zstd,gzip"},
        {"zstd", "zstd"},
        {"gzip, zstd", "zstd,gzip"},
        {"zstd;q=0.5, gzip", "gzip,zstd"},
        {"br;q=0.2, zstd;q=0.9", "zstd,br"},
        {"*;q=0.5, zstd;q=0", "br,gzip"},
        {"ZSTD", "zstd"},
    };
    for (const Row& r : table) EXPECT_EQ(negotiated(r.header), r.want) << r.header;
}

TEST(HeaderRules, MatchingAndPrecedence) {
    HeaderRule assets{"/assets/", "", "public, max-age=31536000, immutable", std::nullopt, {}};
    HeaderRule html{"", "html", "no-cache", std::chrono::hours(1), {{"X-Frame-Options", "DENY"}}};
    HeaderRule deep{"/assets/html/", "html", "private", std::nullopt, {{"X-Extra", "1"}}};
    const HeaderRules rules({assets, html, deep});
    http::FieldBlock head;
    EXPECT_EQ(rules.write("/assets/app.js", false, "app.js", head), -1);
    EXPECT_EQ(head.h1_text(), "Cache-Control: public, max-age=31536000, immutable\r\n");
    head.clear();
    EXPECT_EQ(rules.write("/index.html", false, "index.html", head), 3600);  // Expires: added per response
    EXPECT_EQ(head.h1_text(), "X-Frame-Options: DENY\r\nCache-Control: no-cache\r\n");
    head.clear();
    EXPECT_EQ(rules.write("/assets/html/a.html", false, "a.html", head), 3600);  // later rule wins, fields accumulate
    EXPECT_EQ(head.h1_text(), "X-Frame-Options: DENY\r\nX-Extra: 1\r\nCache-Control: private\r\n");
    head.clear();
    rules.write("/assets", true, "index.txt", head);  // "/assets/" requested: the directory matches
    EXPECT_NE(head.h1_text().find("immutable"), std::string::npos);
    head.clear();
    EXPECT_EQ(rules.write("/other.txt", false, "other.txt", head), -1);
    EXPECT_EQ(head.h1_text(), "");
    HeaderRules::write_expires(3600, 0, head);
    EXPECT_EQ(head.h1_text(), "Expires: Thu, 01 Jan 1970 01:00:00 GMT\r\n");
}

TEST(DirectoryListing, SortedEscapedNoDotfiles) {
    test::TempDir dir;
    dir.write("b.txt", "12345");
    dir.write("a<b>&\"c\".txt", "x");
    dir.write(".hidden", "secret");
    dir.write("sub/x", "");
    std::filesystem::create_symlink("/etc/passwd", dir.path() / "link");
    UniqueFd fd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::string html;
    ASSERT_TRUE(render_directory_listing(fd.get(), "/files/<x>/", html));
    EXPECT_EQ(html.find(".hidden"), std::string::npos);
    EXPECT_EQ(html.find("<x>"), std::string::npos);  // the path is escaped too
    EXPECT_NE(html.find("Index of /files/&lt;x&gt;/"), std::string::npos);
    const auto a = html.find("a&lt;b&gt;&amp;&quot;c&quot;.txt");
    const auto b = html.find(">b.txt<");
    const auto link = html.find(">link<");
    const auto sub = html.find(">sub/<");
    ASSERT_NE(a, std::string::npos);
    ASSERT_NE(b, std::string::npos);
    ASSERT_NE(sub, std::string::npos);
    EXPECT_LT(a, b);
    EXPECT_LT(b, link);
    EXPECT_LT(link, sub);
    EXPECT_NE(html.find("href=\"a%3Cb%3E%26%22c%22.txt\""), std::string::npos);
    EXPECT_NE(html.find("<td>5</td>"), std::string::npos);
    EXPECT_EQ(html.find("root:"), std::string::npos);  // a symlink's target is never read
}

TEST(DirectoryListing, Truncates) {
    test::TempDir dir;
    for (int i = 0; i < 5; ++i) dir.write("f" + std::to_string(i), "");
    UniqueFd fd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::string html;
    ASSERT_TRUE(render_directory_listing(fd.get(), "/", html, 3));
    EXPECT_NE(html.find("Only the first 3 entries"), std::string::npos);
}

}  // namespace
}  // namespace pywebd
