#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

// The fuzz targets' bodies: each feeds one input to a parser and checks its
// invariants, aborting on a violation. libFuzzer drives them (fuzz_*.cpp); the unit
// suite replays every corpus file through them (tests/unit/test_fuzz_corpus.cpp).
namespace pywebd::fuzz {

// Also reads the body of a chunked request through chunked_body().
void request_parser(const std::uint8_t* data, std::size_t size);
void chunked_body(std::string_view body, std::uint8_t seed);
void uri_path(const std::uint8_t* data, std::size_t size);
void byte_ranges(const std::uint8_t* data, std::size_t size);
// Frames (after the client preface, which the target adds) into an HTTP/2 session over
// a scripted transport and a small document root.
void h2_session(const std::uint8_t* data, std::size_t size);

}  // namespace pywebd::fuzz
