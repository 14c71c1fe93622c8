// Weights files (safetensors): header JSON, tensor entries, offsets, metadata.
#include "fuzz_input.h"
#include "googlenet/io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = googlenet_fuzz::write_input(data, size, "safetensors");
    try {
        std::map<std::string, std::string> metadata;
        for (const auto& [name, t] : googlenet::read_safetensors(path, &metadata)) {
            size_t count = 1;
            for (int64_t d : t.shape) count *= size_t(d);
            if (count != t.data.size()) std::abort();  // a tensor's shape must describe its data exactly
        }
    } catch (const googlenet::Error&) {
    }
    return 0;
}
