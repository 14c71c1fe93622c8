#include "googlenet/image.h"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include "googlenet/data.h"
#include "googlenet/error.h"

namespace googlenet {
namespace {

// Far above any picture this model takes, and it keeps a forged header from exhausting memory.
constexpr uint64_t kMaxPixels = uint64_t(1) << 26;

void check_size(const std::string& path, uint64_t width, uint64_t height) {
    if (width * height > kMaxPixels)
        throw Error(path + ": a " + std::to_string(width) + "x" + std::to_string(height) +
                    " image is larger than the 64 Mpixel this program reads");
}

uint8_t luma(uint8_t r, uint8_t g, uint8_t b) {
    return uint8_t((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

// Decoded pixels: 1 channel (grey, PIL's "L") or 3 (RGB, interleaved).
struct Decoded {
    int width = 0, height = 0, channels = 1;
    std::vector<uint8_t> pixels;
};

Decoded read_png(const std::string& path, bool rgb) {
    png_image image;
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path.c_str()))
        throw Error(path + ": not a readable PNG (" + image.message + ")");
    if (uint64_t(image.width) * image.height > kMaxPixels) png_image_free(&image);
    check_size(path, image.width, image.height);
    const bool color = image.format & PNG_FORMAT_FLAG_COLOR;
    // libpng drops alpha as PIL's convert() does (by ignoring it), and expands grey to RGB itself.
    image.format = rgb ? PNG_FORMAT_RGB : color ? PNG_FORMAT_RGBA : PNG_FORMAT_GRAY;
    std::vector<uint8_t> buffer(PNG_IMAGE_SIZE(image));
    if (!png_image_finish_read(&image, nullptr, buffer.data(), 0, nullptr)) {
        const std::string message = image.message;
        png_image_free(&image);
        throw Error(path + ": corrupt PNG (" + message + ")");
    }
    Decoded out{int(image.width), int(image.height), rgb ? 3 : 1, {}};
    if (rgb || !color) {
        out.pixels = std::move(buffer);
    } else {
        out.pixels.resize(size_t(out.width) * out.height);
        for (size_t i = 0; i < out.pixels.size(); ++i)
            out.pixels[i] = luma(buffer[4 * i], buffer[4 * i + 1], buffer[4 * i + 2]);
    }
    return out;
}

struct JpegError {
    jpeg_error_mgr mgr;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

Decoded read_jpeg(const std::string& path, bool want_rgb) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
    if (!file) throw Error(path + ": cannot open");
    jpeg_decompress_struct cinfo;
    JpegError err;
    cinfo.err = jpeg_std_error(&err.mgr);
    // libjpeg reports errors by calling error_exit, which must not return: jump back here.
    err.mgr.error_exit = [](j_common_ptr c) {
        auto* e = reinterpret_cast<JpegError*>(c->err);
        (*c->err->format_message)(c, e->message);
        std::longjmp(e->jump, 1);
    };
    // Warnings about corrupt data (a truncated file, a bad marker) are errors here, as they are
    // in PIL, which would otherwise hand back a picture partly made of grey filler.
    err.mgr.emit_message = [](j_common_ptr c, int level) {
        if (level < 0) c->err->error_exit(c);
    };
    std::vector<uint8_t> rgb;
    Decoded out;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        throw Error(path + ": corrupt JPEG (" + err.message + ")");
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, file.get());
    jpeg_read_header(&cinfo, TRUE);
    if (uint64_t(cinfo.image_width) * cinfo.image_height > kMaxPixels) {
        const uint64_t w = cinfo.image_width, h = cinfo.image_height;
        jpeg_destroy_decompress(&cinfo);
        check_size(path, w, h);
    }
    const bool gray = cinfo.jpeg_color_space == JCS_GRAYSCALE && !want_rgb;
    cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;  // libjpeg expands grey to RGB itself
    jpeg_start_decompress(&cinfo);
    out.width = int(cinfo.output_width);
    out.height = int(cinfo.output_height);
    const size_t row = size_t(out.width) * size_t(cinfo.output_components);
    rgb.resize(row * size_t(out.height));
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW line = rgb.data() + row * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &line, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    out.channels = want_rgb ? 3 : 1;
    if (gray || want_rgb) {
        out.pixels = std::move(rgb);
    } else {
        out.pixels.resize(size_t(out.width) * out.height);
        for (size_t i = 0; i < out.pixels.size(); ++i) out.pixels[i] = luma(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
    }
    return out;
}

Decoded decode(const std::string& path, bool rgb) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
    unsigned char magic[8] = {};
    in.read(reinterpret_cast<char*>(magic), 8);
    static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (in.gcount() == 8 && std::memcmp(magic, png_magic, 8) == 0) return read_png(path, rgb);
    if (in.gcount() >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) return read_jpeg(path, rgb);
    throw Error(path + ": neither a PNG nor a JPEG file");
}

}  // namespace

GrayImage read_image(const std::string& path) {
    Decoded d = decode(path, false);
    return {d.width, d.height, std::move(d.pixels)};
}

RgbImage read_image_rgb(const std::string& path) {
    Decoded d = decode(path, true);
    return {d.width, d.height, std::move(d.pixels)};
}

std::vector<float> prepare_fashion_mnist_input(const GrayImage& image, int size) {
    std::vector<uint8_t> small(28 * 28), resized(size_t(size) * size);
    resize_bilinear(image.pixels.data(), image.width, image.height, small.data(), 28, 28);
    resize_bilinear(small.data(), 28, 28, resized.data(), size, size);
    std::vector<float> out(resized.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = float(resized[i]) / 255.0f;
    return out;
}

}  // namespace googlenet
