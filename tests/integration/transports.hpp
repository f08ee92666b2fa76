#pragma once

// One suite, several transports: typed test suites run every test over plain HTTP and
// over TLS against the same kind of server (ServerOptions::tls) — and, for what does not
// depend on HTTP/1.1's framing, over HTTP/2 too: h2 on TLS, h2c on plain text.

#include <gtest/gtest.h>

#include <string>

namespace pywebd::test {

struct PlainText {
    static constexpr bool kTls = false;
    static constexpr bool kH2 = false;
};
struct OverTls {
    static constexpr bool kTls = true;
    static constexpr bool kH2 = false;
};
struct H2OverTls {
    static constexpr bool kTls = true;
    static constexpr bool kH2 = true;
};
struct H2c {
    static constexpr bool kTls = false;
    static constexpr bool kH2 = true;
};
using Transports = testing::Types<PlainText, OverTls>;  // HTTP/1.1 on both
using Protocols = testing::Types<PlainText, OverTls, H2OverTls, H2c>;
using Http2Only = testing::Types<H2OverTls, H2c>;

// "Serving/Plain.GetHeadAndMissing", "Serving/Tls…", "Serving/H2…", "Serving/H2c…".
struct TransportName {
    template <typename T>
    static std::string GetName(int) {
        if (T::kH2) return T::kTls ? "H2" : "H2c";
        return T::kTls ? "Tls" : "Plain";
    }
};

}  // namespace pywebd::test
