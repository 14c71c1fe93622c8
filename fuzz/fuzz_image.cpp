// PNG and JPEG files as `googlenet predict` takes them: decoded, made grey, resized.
#include "fuzz_input.h"
#include "googlenet/image.h"
#include "googlenet/tensor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = googlenet_fuzz::write_input(data, size, "image");
    try {
        const googlenet::GrayImage image = googlenet::read_image(path);
        if (image.pixels.size() != size_t(image.width) * size_t(image.height)) std::abort();
        googlenet::prepare_fashion_mnist_input(image, 32);
    } catch (const googlenet::Error&) {
    }
    return 0;
}
