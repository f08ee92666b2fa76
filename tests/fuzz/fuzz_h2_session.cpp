// libFuzzer entry point; the checks live in targets.cpp.
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    pywebd::fuzz::h2_session(data, size);
    return 0;
}
