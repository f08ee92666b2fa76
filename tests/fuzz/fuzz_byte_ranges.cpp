// libFuzzer entry point; the checks live in targets.cpp.
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    pywebd::fuzz::byte_ranges(data, size);
    return 0;
}
