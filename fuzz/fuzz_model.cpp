// Model files (docs/models.md): JSON, then the network laid out from it, shapes and all.
#include <string>

#include "googlenet/models.h"
#include "googlenet/tensor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        googlenet::parse_model(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    } catch (const googlenet::Error&) {
    }
    return 0;
}
