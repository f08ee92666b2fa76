#pragma once

// One suite, two transports: typed test suites run every test over plain HTTP and
// over TLS against the same kind of server (ServerOptions::tls).

#include <gtest/gtest.h>

#include <string>

namespace pywebd::test {

struct PlainText {
    static constexpr bool kTls = false;
};
struct OverTls {
    static constexpr bool kTls = true;
};
using Transports = testing::Types<PlainText, OverTls>;

// "Serving/Plain.KeepAliveAndPipelining", "Serving/Tls.KeepAliveAndPipelining".
struct TransportName {
    template <typename T>
    static std::string GetName(int) {
        return T::kTls ? "Tls" : "Plain";
    }
};

}  // namespace pywebd::test
