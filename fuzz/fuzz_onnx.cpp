// ONNX graphs (googlenet import): protobuf parsing by ONNX's schema, the conversion to a model
// file, and the network and weights checked from it.
#include "fuzz_input.h"
#include "googlenet/onnx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = googlenet_fuzz::write_input(data, size, "onnx");
    try {
        googlenet::import_onnx(path, "fuzz");
    } catch (const googlenet::Error&) {
    }
    return 0;
}
