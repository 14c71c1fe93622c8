// PNG and JPEG files as `googlenet predict` takes them (decoded, made grey, resized) and as image
// folders do (RGB, random resized crop, resize and centre crop).
#include "fuzz_input.h"
#include "googlenet/image.h"
#include "googlenet/image_folder.h"
#include "googlenet/tensor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = googlenet_fuzz::write_input(data, size, "image");
    try {
        const googlenet::GrayImage image = googlenet::read_image(path);
        if (image.pixels.size() != size_t(image.width) * size_t(image.height)) std::abort();
        googlenet::prepare_fashion_mnist_input(image, 32);
    } catch (const googlenet::Error&) {
    }
    try {  // as image folders read it: RGB, then the training crop and the evaluation resize
        const googlenet::RgbImage rgb = googlenet::read_image_rgb(path);
        if (rgb.pixels.size() != size_t(rgb.width) * size_t(rgb.height) * 3) std::abort();
        googlenet::ImageTransform t;
        t.size = 16;
        googlenet::transform_image(rgb, t, size);
        t.train = false;
        googlenet::transform_image(rgb, t, size);
    } catch (const googlenet::Error&) {
    }
    return 0;
}
