// Reading PNG and JPEG files (libpng, libjpeg-turbo) into grey images, as PIL's convert("L")
// does, and preparing them as the training pipeline prepares Fashion-MNIST.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace googlenet {

struct GrayImage {
    int width = 0, height = 0;
    std::vector<uint8_t> pixels;  // height x width
};

// PNG or JPEG (told apart by their first bytes). Colour becomes grey with PIL's weights,
// L = (19595 R + 38470 G + 7471 B + 32768) >> 16; alpha is dropped, as PIL drops it.
// Throws Error naming the file for anything unreadable.
GrayImage read_image(const std::string& path);

struct RgbImage {
    int width = 0, height = 0;
    std::vector<uint8_t> pixels;  // height x width x 3 (R, G, B)
};

// PNG or JPEG as RGB, as PIL's convert("RGB"): grey is repeated, alpha dropped.
RgbImage read_image_rgb(const std::string& path);

// The model's input for one image, exactly as in training: a 28x28 picture (other sizes are first
// resized to 28x28, as Fashion-MNIST's images were made), resized to `size` (PIL bilinear), / 255.
std::vector<float> prepare_fashion_mnist_input(const GrayImage& image, int size);

}  // namespace googlenet
