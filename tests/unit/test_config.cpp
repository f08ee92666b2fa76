#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "config.hpp"
#include "config_keys.hpp"
#include "config_values.hpp"
#include "temp_dir.hpp"

namespace pywebd {
namespace {

using namespace std::chrono_literals;

class ConfigFile : public testing::Test {
protected:
    ConfigFile() { std::filesystem::create_directory(dir_.path() / "site"); }
    std::filesystem::path write(const std::string& yaml) { return dir_.write("server.yaml", yaml + test::user_line()); }
    // Loads and validates; returns the error lines (empty when the file is good).
    std::vector<std::string> errors_of(const std::string& yaml) {
        // A YAML syntax error must stay where the table says: add nothing after it.
        const bool syntax_error = yaml.find('[') != std::string::npos && yaml.find(']') == std::string::npos;
        const bool names_user = yaml.find("user:") != std::string::npos;
        try {
            Config config = load_config_file(
                dir_.write("server.yaml", syntax_error || names_user ? yaml : yaml + test::user_line()));
            validate(config);
            return {};
        } catch (const ConfigError& error) {
            return error.errors();
        }
    }
    struct BadCase {
        const char* yaml;
        const char* expected;  // regex the single error line must match
    };
    template <std::size_t N>
    void expect_one_error_each(const BadCase (&table)[N]) {
        for (const BadCase& c : table) {
            SCOPED_TRACE(c.yaml);
            const auto errors = errors_of(c.yaml);
            ASSERT_EQ(errors.size(), 1u);
            EXPECT_TRUE(std::regex_search(errors[0], std::regex(c.expected))) << errors[0];
        }
    }
    test::TempDir dir_;
};

TEST_F(ConfigFile, DefaultsWhenEmpty) {
    Config config = load_config_file(write("root: site\n"));
    validate(config);
    EXPECT_EQ(config.port, 8888);
    EXPECT_EQ(config.limits.max_head_bytes, 16u * 1024);
    EXPECT_EQ(config.limits.max_headers, 100u);
    EXPECT_EQ(config.limits.max_uri_bytes, 8u * 1024);
    EXPECT_EQ(config.limits.max_connections, 10000u);
    EXPECT_EQ(config.timeouts.header, 10s);
    EXPECT_EQ(config.timeouts.keepalive, 15s);
    EXPECT_EQ(config.timeouts.send, 30s);
    EXPECT_EQ(config.timeouts.shutdown, 10s);
    EXPECT_TRUE(config.serve_well_known);
    EXPECT_EQ(config.root, std::filesystem::canonical(dir_.path() / "site"));
}

TEST_F(ConfigFile, ReadsEveryKind) {
    Config config = load_config_file(write(
        "port: 9000\nlisten: [\"127.0.0.1\", \"[::1]:9001\"]\nroot: site\nworkers: 3\nindex: [a.html, b.html]\n"
        "serve_dotfiles: yes\nserve_well_known: no\nserver_tokens: off\naccess_log: logs/access.log\nlog_level: debug\n"
        "limits:\n  max_head_bytes: 32k\n  max_uri_bytes: 1KiB\ntimeouts:\n  keepalive: 500ms\n  shutdown: 1m\n"));
    validate(config);
    EXPECT_EQ(config.port, 9000);
    ASSERT_EQ(config.effective_listen().size(), 2u);
    EXPECT_EQ(config.effective_listen()[0].to_string(), "127.0.0.1:9000");
    EXPECT_EQ(config.effective_listen()[1].to_string(), "[::1]:9001");
    EXPECT_EQ(config.workers, 3u);
    EXPECT_EQ(config.index, (std::vector<std::string>{"a.html", "b.html"}));
    EXPECT_TRUE(config.serve_dotfiles);
    EXPECT_FALSE(config.serve_well_known);
    EXPECT_FALSE(config.server_tokens);
    EXPECT_EQ(config.access_log, dir_.path() / "logs/access.log");  // relative to the file
    EXPECT_EQ(config.log_level, LogLevel::Debug);
    EXPECT_EQ(config.limits.max_head_bytes, 32u * 1024);
    EXPECT_EQ(config.timeouts.keepalive, 500ms);
    EXPECT_EQ(config.timeouts.shutdown, 60s);
}

TEST_F(ConfigFile, EachErrorNamesFileLineColumnAndKey) {
    const BadCase table[] = {
        {"root: site\nprot: 80\n", R"(server\.yaml:2:1: prot: unknown key)"},
        {"root: site\nport: eighty\n", R"(server\.yaml:2:7: port: expected a whole number, got 'eighty')"},
        {"root: site\nport: 70000\n", R"(server\.yaml:2:7: port: must be from 0 to 65535, got 70000)"},
        {"root: site\nworkers: 0\n", R"(server\.yaml:2:10: workers: must be from 1 to 1024, got 0)"},
        {"root: site\nlimits:\n  max_head_bytes: 10\n",
         R"(server\.yaml:3:19: limits\.max_head_bytes: must be from 1024 to 1048576 bytes, got 10)"},
        {"root: site\nlimits:\n  max_heads: 1\n", R"(server\.yaml:3:3: limits\.max_heads: unknown key)"},
        {"root: site\ntimeouts:\n  header: soon\n",
         R"(server\.yaml:3:11: timeouts\.header: expected a duration.*'soon')"},
        {"root: site\nlimits: 5\n", R"(server\.yaml:2:9: limits: expected a map of keys)"},
        {"root: site\nserve_dotfiles: maybe\n",
         R"(server\.yaml:2:17: serve_dotfiles: expected true or false, got 'maybe')"},
        {"root: site\nlisten: [\"localhost:80\"]\n",
         R"(server\.yaml:2:10: listen: 'localhost:80': 'localhost' is not a numeric IPv4 address)"},
        {"root: site\nlisten: [\"::1\"]\n", R"(server\.yaml:2:10: listen: '::1': IPv6 addresses go in brackets.*)"},
        {"root: site\nindex: [\"../x\"]\n", R"(server\.yaml:2:8: index: '\.\./x' is not a plain file name)"},
        {"root: site\nport: [1, 2]\n", R"(server\.yaml:2:7: port: expected a single value.*)"},
        {"root: site\ncompression: {codings: [br, deflate]}\n",
         R"(server\.yaml:2:29: compression: 'deflate' is not a coding pywebd makes \(br, zstd, gzip\))"},
        {"root: site\ncompression: {codings: [gzip, gzip]}\n",
         R"(server\.yaml:2:31: compression: 'gzip' is listed twice)"},
        {"root: site\ncompression: {codings: []}\n",
         R"(server\.yaml:2:24: compression: expected a list of codings: br, zstd, gzip)"},
        {"root: site\ncompression: {types: [text]}\n",
         R"(server\.yaml:2:23: compression: 'text' is not a media type such as text/css or text/\*)"},
        {"root: site\ncompression: {types: [\"*/html\"]}\n",
         R"(server\.yaml:2:23: compression: '\*/html' is not a media type.*)"},
        {"root: site\ncompression: {types: [\"*/*\"]}\n",
         R"(server\.yaml:2:23: compression: '\*/\*' is not a media type.*)"},
        {"root: site\ncompression: {types: [\"te*t/*\"]}\n",
         R"(server\.yaml:2:23: compression: 'te\*t/\*' is not a media type.*)"},
        {"root: site\ncompression: {level: 9}\n",
         R"(server\.yaml:2:15: compression: unknown key 'level' \(codings, types, min_size\))"},
        {"root: site\ncompression: {min_size: lots}\n", R"(server\.yaml:2:25: compression: expected a size.*'lots')"},
        {"root: site\ncompression: sometimes\n",
         R"(server\.yaml:2:14: compression: expected off, or a map.*'sometimes')"},
        {"root: site\ncache: {compressed: huge}\n", R"(server\.yaml:2:21: cache\.compressed: expected a size.*'huge')"},
        {"root: site\nport: 1\nport: 2\n", R"(server\.yaml:3:1: port: duplicate key)"},
        {"root: site\nlog_level: loud\n", R"(server\.yaml:2:12: log_level: expected debug, info.*got 'loud')"},
        {"root: missing-dir\n", R"(server\.yaml:1:7: root: '.*missing-dir': No such file or directory)"},
        {"root: server.yaml\n", R"(server\.yaml:1:7: root: '.*server\.yaml' is not a directory)"},
        {"root: site\nport: [\n", R"(server\.yaml:3:1: .*)"},  // YAML syntax error
        {"- a\n- b\n", R"(server\.yaml:\d+:\d+: .*)"},
    };
    expect_one_error_each(table);
}

TEST_F(ConfigFile, FallbackAndRedirects) {
    Config config = load_config_file(
        write("root: site\nfallback: /app/index.html\nasset_extensions: [JS, .css]\n"
              "redirects:\n  - {from: /old, to: /new}\n  - {from: /blog/*, to: https://blog.example/, status: 308, "
              "query: drop}\nredirect: {to: \"https://example.org\", status: 302}\n"));
    validate(config);
    EXPECT_EQ(config.fallback, "/app/index.html");
    EXPECT_EQ(config.asset_extensions, (std::vector<std::string>{"js", "css"}));
    ASSERT_EQ(config.redirects.size(), 2u);
    EXPECT_EQ(config.redirects[0].from, "/old");
    EXPECT_FALSE(config.redirects[0].prefix);
    EXPECT_EQ(config.redirects[0].status, 301);
    EXPECT_TRUE(config.redirects[0].keep_query);
    EXPECT_EQ(config.redirects[1].from, "/blog/");
    EXPECT_TRUE(config.redirects[1].prefix);
    EXPECT_EQ(config.redirects[1].status, 308);
    EXPECT_FALSE(config.redirects[1].keep_query);
    ASSERT_TRUE(config.site_redirect);
    const Config bare = load_config_file(write("root: site\nredirects: [{from: /x/*, to: \"https://example.org\"}]\n"));
    EXPECT_EQ(bare.redirects[0].to, "https://example.org/");  // or /x/@evil.example would name another host
    const Config queried =
        load_config_file(write("root: site\nredirects:\n  - {from: /q, to: \"https://example.org?x=1\"}\n"
                               "  - {from: /f, to: \"https://example.org#f\"}\n"));
    EXPECT_EQ(queried.redirects[0].to, "https://example.org/?x=1");  // the '/' goes before the query
    EXPECT_EQ(queried.redirects[1].to, "https://example.org/#f");
    // Chains that end are fine, however long; the remainder is joined as the server joins it.
    std::string chain = "root: site\nredirects:\n";
    for (int i = 1; i < 3000; ++i)
        chain += "  - {from: /p" + std::to_string(i) + ", to: /p" + std::to_string(i + 1) + "}\n";
    EXPECT_EQ(load_config_file(write(chain)).redirects.size(), 2999u);
    EXPECT_EQ(load_config_file(write("root: site\nredirects:\n  - {from: /s, to: /a/x}\n  - {from: /a*, to: /b/}\n"
                                     "  - {from: /b//x, to: /s}\n"))
                  .redirects.size(),
              3u);  // /s → /a/x → /b/x, which no rule takes
    EXPECT_EQ(config.site_redirect->to, "https://example.org/");
    EXPECT_EQ(config.site_redirect->status, 302);
    const Config defaults = load_config_file(write("root: site\n"));
    EXPECT_EQ(defaults.fallback, "");
    EXPECT_TRUE(defaults.redirects.empty());
    EXPECT_FALSE(defaults.site_redirect);
}

// Each site starts from the top level's site keys, wherever in the file they are, and
// overrides what it sets; its names are normalised.
TEST_F(ConfigFile, SitesInheritTheTopLevelAndNormaliseTheirNames) {
    std::filesystem::create_directory(dir_.path() / "a");
    Config config = load_config_file(
        write("root: site\nsites:\n  - names: [A.Example., \"*.B.example\"]\n    root: a\n    fallback: /app.html\n"
              "  - {names: c.example, root: a, index: [home.html]}\nindex: [main.html]\nunknown_host: \"421\"\n"
              "headers: [{extension: css, cache_control: no-cache}]\n"));
    validate(config);
    ASSERT_EQ(config.sites.size(), 2u);
    const Config& a = config.sites[0];
    EXPECT_EQ(a.names, (std::vector<std::string>{"a.example", "*.b.example"}));
    EXPECT_EQ(a.root, std::filesystem::canonical(dir_.path() / "a"));
    EXPECT_EQ(a.fallback, "/app.html");
    EXPECT_EQ(a.index, (std::vector<std::string>{"main.html"}));  // the top level's, written after `sites`
    EXPECT_EQ(a.headers.size(), 1u);
    EXPECT_EQ(config.sites[1].index, (std::vector<std::string>{"home.html"}));
    EXPECT_EQ(config.sites[1].fallback, "");
    EXPECT_EQ(config.fallback, "");
    EXPECT_EQ(config.unknown_host, UnknownHost::Misdirected);
    EXPECT_EQ(config.root, std::filesystem::canonical(dir_.path() / "site"));
}

// compression: on by default for the listed types; off, or codings and types of one's
// own, at the top level and per site.
TEST_F(ConfigFile, CompressionDefaultsOffAndPerSite) {
    std::filesystem::create_directory(dir_.path() / "a");
    Config defaults = load_config_file(write("root: site\n"));
    EXPECT_TRUE(defaults.compression.enabled);
    EXPECT_TRUE(defaults.compression.br && defaults.compression.zstd && defaults.compression.gzip);
    EXPECT_EQ(defaults.compression.min_size, 256u);
    EXPECT_EQ(defaults.cache.compressed, 32u << 20);
    EXPECT_NE(std::find(defaults.compression.types.begin(), defaults.compression.types.end(), "text/*"),
              defaults.compression.types.end());
    Config config = load_config_file(
        write("root: site\ncompression: {codings: [gzip], types: [Text/CSS, \"application/*\"], min_size: 1KiB}\n"
              "cache: {compressed: 1MiB}\n"
              "sites:\n  - {names: a.example, root: a, compression: off}\n  - {names: b.example, root: a}\n"));
    EXPECT_TRUE(config.compression.enabled);
    EXPECT_FALSE(config.compression.br || config.compression.zstd);
    EXPECT_TRUE(config.compression.gzip);
    EXPECT_EQ(config.compression.types, (std::vector<std::string>{"text/css", "application/*"}));
    EXPECT_EQ(config.compression.min_size, 1024u);
    EXPECT_EQ(config.cache.compressed, 1u << 20);
    EXPECT_FALSE(config.sites[0].compression.enabled);
    EXPECT_TRUE(config.sites[1].compression.gzip);  // inherited
    EXPECT_FALSE(config.sites[1].compression.br);
    EXPECT_FALSE(load_config_file(write("root: site\ncompression: false\n")).compression.enabled);
}

TEST_F(ConfigFile, BadSitesNameTheirEntry) {
    std::filesystem::create_directory(dir_.path() / "a");
    const BadCase table[] = {
        {"root: site\nsites:\n  - {root: a}\n", R"(server\.yaml:3:5: sites\[0\]: a site needs names)"},
        {"root: site\nsites:\n  - {names: [a.example]}\n",
         R"(server\.yaml:3:5: sites\[0\]: a site needs its own root)"},
        {"root: site\nsites:\n  - {names: [\"a.example:80\"], root: a}\n",
         R"(server\.yaml:3:14: sites\[0\]\.names: 'a\.example:80' is not a host name)"},
        {"root: site\nsites:\n  - {names: [a.example], root: a}\n  - {names: [A.EXAMPLE], root: a}\n",
         R"(server\.yaml:4:5: sites\[1\]\.names: 'a\.example' is already a name of sites\[0\])"},
        {"root: site\nsites:\n  - {names: [a.example], root: a, workers: 2}\n",
         R"(server\.yaml:3:35: sites\[0\]\.workers: unknown site key)"},
        {"root: site\nsites:\n  - {names: [a.example], root: missing}\n",
         R"(server\.yaml:3:32: sites\[0\]\.root: '.*missing': No such file or directory)"},
        {"root: site\nsites:\n  - {names: [a.example], root: a, fallback: x}\n",
         R"(server\.yaml:3:45: sites\[0\]\.fallback: fallback is a file under the root)"},
        {"root: site\nsites: {a: b}\n", R"(server\.yaml:2:8: sites: expected a list of sites)"},
        {"root: site\nsites:\n  - {names: [], root: a}\n",
         R"(server\.yaml:3:13: sites\[0\]\.names: a site needs at least one name)"},
        {"root: site\nsites:\n  - {names: [a.example, A.example], root: a}\n",
         R"(server\.yaml:3:5: sites\[0\]\.names: 'a\.example' is listed twice)"},
        {"root: site\nunknown_host: 403\n", R"(server\.yaml:2:15: unknown_host: expected serve, 421 or 404)"},
    };
    expect_one_error_each(table);
}

TEST_F(ConfigFile, BadFallbacksAndRedirectsNameTheirPosition) {
    const BadCase table[] = {
        {"root: site\nfallback: /../etc/passwd\n", R"(server\.yaml:2:11: fallback: fallback is a file under the root)"},
        {"root: site\nfallback: index.html\n", R"(server\.yaml:2:11: fallback: fallback is a file under the root)"},
        {"root: site\nfallback: /app/\n", R"(server\.yaml:2:11: fallback: fallback is a file under the root)"},
        {"root: site\nasset_extensions: [\"a/b\"]\n", R"(server\.yaml:2:19: asset_extensions: 'a/b' is not)"},
        {"root: site\nredirects:\n  - {from: /a, to: /a}\n", R"(server\.yaml:3:5: redirects: redirects /a to itself)"},
        {"root: site\nredirects:\n  - {from: /a/*, to: /a/b/}\n",
         R"(server\.yaml:3:5: redirects: redirects /a/\* to itself)"},
        {"root: site\nredirects:\n  - {from: /a, to: /b, status: 303}\n",
         R"(server\.yaml:3:32: redirects: a redirect status is 301, 302, 307 or 308, not '303')"},
        {"root: site\nredirects:\n  - {from: a, to: /b}\n", R"(server\.yaml:3:12: redirects: from is a path)"},
        {"root: site\nredirects:\n  - {from: /a, to: //evil.example/}\n",
         R"(server\.yaml:3:20: redirects: to is a path)"},
        {"root: site\nredirects:\n  - {from: /a, to: \"javascript:x\"}\n",
         R"(server\.yaml:3:20: redirects: to is a path)"},
        {"root: site\nredirects:\n  - {from: /a}\n", R"(server\.yaml:3:5: redirects: a redirect needs from and to)"},
        {"root: site\nredirects:\n  - {from: /a, to: /b, code: 301}\n",
         R"(server\.yaml:3:24: redirects: unknown redirect key 'code')"},
        {"root: site\nredirects:\n  - {from: /a, to: /b, query: maybe}\n", R"(server\.yaml:3:31: redirects: query is)"},
        {"root: site\nredirect: /elsewhere\n", R"(server\.yaml:2:11: redirect: redirect is a URL)"},
        {"root: site\netag: hash\n", R"(server\.yaml:2:7: etag: expected metadata or content, got 'hash')"},
        {"root: site\nfallback: /.env\n", R"(server\.yaml:2:11: fallback: fallback is a file under the root)"},
        {"root: site\nredirects:\n  - {from: /d/*, to: /new}\n",
         R"(server\.yaml:3:5: redirects: from /d/\* ends in '/', so to must too \(/new/\))"},
        {"root: site\nredirects:\n  - {from: /d/*, to: \"/new/?a=1\"}\n",
         R"(server\.yaml:3:5: redirects: the target of a prefix rule takes no query)"},
        {"root: site\nredirects:\n  - {from: /a, to: /b}\n  - {from: /b, to: /c}\n  - {from: /c, to: /a}\n",
         R"(server\.yaml:3:3: redirects: these redirects loop: /a → /b → /c → /a)"},
        {"root: site\nredirects:\n  - {from: /x/*, to: /y/}\n  - {from: /y/*, to: /x/}\n",
         R"(server\.yaml:3:3: redirects: these redirects loop: /x/ → /y/ → /x/)"},
        // Loops only a path with a remainder takes (the bare prefix is caught elsewhere).
        {"root: site\nredirects:\n  - {from: /a/*, to: /b/}\n  - {from: /b/*, to: /a/}\n  - {from: /b/, to: /home}\n",
         R"(redirects: these redirects loop: /a/x → /b/x → /a/x)"},
        {"root: site\nredirects:\n  - {from: /a/*, to: /b/}\n  - {from: /b/c/*, to: /a/c/}\n  - {from: /b/c/, to: "
         "/ok}\n"
         "  - {from: /a/c/, to: /ok}\n",
         R"(redirects: these redirects loop: /b/c/x → /a/c/x → /b/c/x)"},
        // The remainder joined as the server joins it: /a/x → /b/x (not /b//x).
        {"root: site\nredirects:\n  - {from: /s, to: /a/x}\n  - {from: /a*, to: /b/}\n  - {from: /b/x, to: /s}\n",
         R"(redirects: these redirects loop: /s → /a/x → /b/x → /s)"},
        {"root: site\nredirect: \"https://example.org/?a=1\"\n", R"(server\.yaml:2:11: redirect: redirect is a URL)"},
    };
    expect_one_error_each(table);
}

TEST_F(ConfigFile, AdminListenerIsOffLoopbackOrExplicitlyPublic) {
    auto load = [&](const std::string& yaml) {
        Config config = load_config_file(write(yaml));
        validate(config);
        return config;
    };
    EXPECT_FALSE(load("root: site\n").admin);
    EXPECT_FALSE(load("root: site\nadmin: off\n").admin);
    const Config loopback = load("root: site\nadmin: \"127.0.0.1:9145\"\n");
    ASSERT_TRUE(loopback.admin);
    EXPECT_TRUE(loopback.admin->admin);
    EXPECT_EQ(loopback.admin->to_string(), "127.0.0.1:9145");
    EXPECT_EQ(load("root: site\nadmin: \"[::1]:9145\"\n").admin->to_string(), "[::1]:9145");
    EXPECT_EQ(load("root: site\nadmin: {address: \"0.0.0.0:9145\", public: true}\n").admin->to_string(),
              "0.0.0.0:9145");
    const BadCase table[] = {
        {"root: site\nadmin: \"0.0.0.0:9145\"\n",
         R"(server\.yaml:2:8: admin: '0\.0\.0\.0:9145' is not a loopback address.*public: true)"},
        {"root: site\nadmin: \"10.1.2.3:9145\"\n", R"(server\.yaml:2:8: admin: .* is not a loopback address)"},
        {"root: site\nadmin: {address: \"[::]:9145\", public: false}\n",
         R"(server\.yaml:2:8: admin: '\[::\]:9145' is not a loopback address)"},
        {"root: site\nadmin: \"127.0.0.1\"\n", R"(server\.yaml:2:8: admin: .*needs a port, as 127\.0\.0\.1:9145)"},
        {"root: site\nadmin: {port: 9145}\n", R"(server\.yaml:2:9: admin: unknown key 'port' \(address, public\))"},
        {"root: site\nadmin: {public: true}\n", R"(server\.yaml:2:8: admin: an admin map needs an address)"},
        {"root: site\nadmin: [\"127.0.0.1:9145\"]\n", R"(server\.yaml:2:8: admin: expected ADDR:PORT, off.*)"},
        {"root: site\nlisten: \"127.0.0.1:9145\"\nadmin: \"127.0.0.1:9145\"\n",
         R"(server\.yaml:3:8: admin: 127\.0\.0\.1:9145 overlaps the listen address 127\.0\.0\.1:9145)"},
        {"root: site\nport: 9145\nadmin: \"127.0.0.1:9145\"\n",
         R"(admin: 127\.0\.0\.1:9145 overlaps the listen address 0\.0\.0\.0:9145)"},
    };
    expect_one_error_each(table);
}

TEST_F(ConfigFile, HeaderRulesAndErrorPages) {
    Config config = load_config_file(
        write("root: site\nerror_pages: {404: /errors/404.html}\nheaders:\n  - path: /assets/\n"
              "    cache_control: \"public, max-age=31536000, immutable\"\n  - extension: .HTML\n    expires: 1h\n"
              "    add: {X-Frame-Options: DENY}\n"));
    ASSERT_EQ(config.error_pages.size(), 1u);
    EXPECT_EQ(config.error_pages.at(404), "/errors/404.html");
    ASSERT_EQ(config.headers.size(), 2u);
    EXPECT_EQ(config.headers[0].path_prefix, "/assets/");
    EXPECT_EQ(config.headers[0].cache_control, "public, max-age=31536000, immutable");
    EXPECT_EQ(config.headers[1].extension, "html");
    EXPECT_EQ(config.headers[1].expires, std::chrono::hours(1));
    ASSERT_EQ(config.headers[1].fields.size(), 1u);
    EXPECT_EQ(config.headers[1].fields[0].first, "X-Frame-Options");
}

TEST_F(ConfigFile, BadRulesPointAtTheEntry) {
    const BadCase table[] = {
        {"root: site\nheaders:\n  - path: assets\n", R"(server\.yaml:3:11: headers: path must start with '/')"},
        {"root: site\nheaders:\n  - path: /a/\n    add: {Content-Length: 5}\n",
         R"(server\.yaml:4:11: headers: 'Content-Length' is set by the server itself)"},
        {"root: site\nheaders:\n  - path: /a/\n    add: {\"Bad Name\": x}\n",
         R"(server\.yaml:4:11: headers: 'Bad Name' is not a valid header field name)"},
        {"root: site\nheaders:\n  - path: /a/\n    colour: red\n",
         R"(server\.yaml:4:5: headers: unknown rule key 'colour')"},
        {"root: site\nheaders:\n  - cache_control: x\n",
         R"(server\.yaml:3:5: headers: a rule needs path or extension)"},
        {"root: site\nheaders:\n  - path: /a/\n    expires: soon\n",
         R"(server\.yaml:4:14: headers: expires takes a duration)"},
        {"root: site\nerror_pages: {200: /x.html}\n",
         R"(server\.yaml:2:15: error_pages: '200' is not an error status)"},
        {"root: site\nerror_pages: {404: x.html}\n",
         R"(server\.yaml:2:20: error_pages: the page must be a path under the root)"},
    };
    expect_one_error_each(table);
}

TEST_F(ConfigFile, ReportsAllErrorsAtOnce) {
    const auto errors = errors_of("root: site\nport: x\nworkers: y\nnope: 1\n");
    EXPECT_EQ(errors.size(), 3u);
}

TEST_F(ConfigFile, WorkersAsRootOnlyWhenNamed) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    Config config = load_config_file(dir_.write("server.yaml", "root: site\n"));
    try {
        validate(config);
        ADD_FAILURE() << "root without a user was accepted";
    } catch (const ConfigError& error) {
        EXPECT_NE(error.errors().front().find("refusing to run workers as root"), std::string::npos);
    }
    config = load_config_file(dir_.write("server.yaml", "root: site\nuser: root\n"));
    EXPECT_NO_THROW(validate(config));
}

TEST_F(ConfigFile, UnknownUserAndGroup) {
    const auto errors = errors_of("root: site\nuser: no-such-user-xyz\ngroup: no-such-group-xyz\n");
    ASSERT_EQ(errors.size(), 2u);
    EXPECT_NE(errors[0].find("server.yaml:2:7: user: 'no-such-user-xyz' does not exist"), std::string::npos)
        << errors[0];
    EXPECT_NE(errors[1].find("server.yaml:3:8: group: 'no-such-group-xyz' does not exist"), std::string::npos);
}

TEST_F(ConfigFile, MissingFileAndDirectory) {
    EXPECT_THROW(load_config_file(dir_.path() / "absent.yaml"), ConfigError);
    EXPECT_THROW(load_config_file(dir_.path()), ConfigError);
}

TEST(ConfigValues, Bytes) {
    EXPECT_EQ(parse_bytes("4096"), 4096u);
    EXPECT_EQ(parse_bytes("16k"), 16384u);
    EXPECT_EQ(parse_bytes("16KiB"), 16384u);
    EXPECT_EQ(parse_bytes("1MiB"), 1048576u);
    EXPECT_EQ(parse_bytes("2g"), 2147483648u);
    EXPECT_FALSE(parse_bytes(""));
    EXPECT_FALSE(parse_bytes("k"));
    EXPECT_FALSE(parse_bytes("12 k"));
    EXPECT_FALSE(parse_bytes("-1"));
    EXPECT_FALSE(parse_bytes("1t"));
    EXPECT_FALSE(parse_bytes("99999999999999999999g"));
}

TEST(ConfigValues, Durations) {
    EXPECT_EQ(parse_duration("10"), 10s);
    EXPECT_EQ(parse_duration("10s"), 10s);
    EXPECT_EQ(parse_duration("250ms"), 250ms);
    EXPECT_EQ(parse_duration("2m"), 120s);
    EXPECT_EQ(parse_duration("1h"), 3600s);
    EXPECT_EQ(parse_duration("7d"), std::chrono::hours(24 * 7));
    EXPECT_FALSE(parse_duration("1w"));
    EXPECT_FALSE(parse_duration("s"));
    EXPECT_FALSE(parse_duration("1.5s"));
    EXPECT_FALSE(parse_duration("99999999999h"));
}

TEST(ConfigValues, Booleans) {
    EXPECT_EQ(parse_bool("true"), true);
    EXPECT_EQ(parse_bool("Off"), false);
    EXPECT_EQ(parse_bool("yes"), true);
    EXPECT_FALSE(parse_bool("1"));
}

TEST(ListenAddresses, Parse) {
    std::string error;
    auto a = parse_listen_address("[::1]:8080", error);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->family, AF_INET6);
    EXPECT_EQ(a->port, 8080);
    a = parse_listen_address("*:80", error);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "0.0.0.0");
    a = parse_listen_address("9000", error);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->port, 9000);
    EXPECT_FALSE(parse_listen_address("1.2.3.4:99999", error));
    EXPECT_FALSE(parse_listen_address("[::1", error));
    EXPECT_FALSE(parse_listen_address("[::1]x", error));
    EXPECT_FALSE(parse_listen_address("example.com", error));
    EXPECT_FALSE(parse_listen_address("", error));
}

TEST(ListenAddresses, SameEndpointComparesTheAddressNotItsSpelling) {
    std::string error;
    const auto at = [&](const char* text) { return *parse_listen_address(text, error); };
    EXPECT_TRUE(at("[::1]:80").same_endpoint(at("[0::1]:80")));
    EXPECT_TRUE(at("[::]:80").same_endpoint(at("[0:0::0]:80")));
    EXPECT_TRUE(at("127.0.0.1:80").same_endpoint(at("127.0.0.1:80")));
    EXPECT_FALSE(at("127.0.0.1:80").same_endpoint(at("0.0.0.0:80")));  // a wildcard is another socket
    EXPECT_FALSE(at("127.0.0.1:80").same_endpoint(at("127.0.0.1:81")));
    EXPECT_FALSE(at("0.0.0.0:80").same_endpoint(at("[::]:80")));
    EXPECT_TRUE(at("127.0.0.2:1").is_loopback());
    EXPECT_TRUE(at("[::1]:1").is_loopback());
    EXPECT_FALSE(at("10.0.0.1:1").is_loopback());
    EXPECT_FALSE(at("[::]:1").is_loopback());
    EXPECT_FALSE(at("0.0.0.0:1").is_loopback());
}

// config/server.yaml is the documentation of every key: it must name each one, only
// those, and load cleanly.
TEST(DefaultConfigFile, DocumentsEveryKeyAndLoads) {
    const std::filesystem::path file = PYWEBD_SOURCE_DIR "/config/server.yaml";
    Config config = load_config_file(file);
    if (::geteuid() == 0) config.user = "root";  // see user_line()
    validate(config);
    std::ifstream in(file);
    std::set<std::string> present;
    std::string line, section;
    while (std::getline(in, line)) {
        if (line.empty() || line.find_first_not_of(' ') == std::string::npos) continue;
        const auto first = line.find_first_not_of(' ');
        if (line[first] == '#') continue;
        const std::string key = line.substr(first, line.find(':') - first);
        if (first == 0) {
            section = key;
            present.insert(key);
        } else {
            present.insert(section + "." + key);
        }
    }
    for (const ConfigKey& key : config_keys()) EXPECT_TRUE(present.contains(std::string(key.path))) << key.path;
    // The man page pywebd.yaml(5) describes each key too.
    std::ifstream man(PYWEBD_SOURCE_DIR "/packaging/man/pywebd.yaml.5");
    const std::string page((std::istreambuf_iterator<char>(man)), std::istreambuf_iterator<char>());
    for (const ConfigKey& key : config_keys())
        EXPECT_NE(page.find("\n.B " + std::string(key.path) + "\n"), std::string::npos)
            << key.path << " not in pywebd.yaml.5";
    // And the built-in defaults are what the file says, root aside.
    const Config defaults;
    EXPECT_EQ(config.port, defaults.port);
    EXPECT_EQ(config.limits.max_head_bytes, defaults.limits.max_head_bytes);
    EXPECT_EQ(config.limits.max_ranges, defaults.limits.max_ranges);
    EXPECT_EQ(config.timeouts.linger, defaults.timeouts.linger);
    EXPECT_EQ(config.log_level, defaults.log_level);
    EXPECT_EQ(config.tls.ciphers, defaults.tls.ciphers);
    EXPECT_EQ(config.tls.groups, defaults.tls.groups);
    EXPECT_EQ(config.tls.protocols, defaults.tls.protocols);
    EXPECT_EQ(config.tls.ticket_rotation, defaults.tls.ticket_rotation);
    EXPECT_EQ(config.index, defaults.index);
    EXPECT_EQ(config.effective_listen(), defaults.effective_listen());
}

}  // namespace
}  // namespace pywebd
