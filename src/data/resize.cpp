// PIL's bilinear resampling (Pillow's libImaging/Resample.c, 8 bits per channel), reproduced so
// that images match torchvision's Resize bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "googlenet/data.h"

namespace googlenet {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coefficients {
    int ksize = 0;
    std::vector<int> first, count;  // per output pixel: first input pixel and how many
    std::vector<int32_t> weights;   // out_size x ksize, fixed point
};

double triangle(double x) {
    x = std::fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

Coefficients coefficients(int in_size, int out_size) {
    const double scale = double(in_size) / out_size;
    const double filter_scale = std::max(scale, 1.0);
    const double support = 1.0 * filter_scale;  // the triangle filter's support is 1
    Coefficients c;
    c.ksize = int(std::ceil(support)) * 2 + 1;
    c.first.resize(size_t(out_size));
    c.count.resize(size_t(out_size));
    c.weights.assign(size_t(out_size) * c.ksize, 0);
    std::vector<double> k(size_t(c.ksize));
    for (int xx = 0; xx < out_size; ++xx) {
        const double center = (xx + 0.5) * scale;
        int xmin = int(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = int(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double total = 0;
        for (int x = 0; x < xmax; ++x) {
            k[size_t(x)] = triangle((x + xmin - center + 0.5) / filter_scale);
            total += k[size_t(x)];
        }
        for (int x = 0; x < xmax; ++x) {
            const double w = total != 0.0 ? k[size_t(x)] / total : k[size_t(x)];
            c.weights[size_t(xx) * c.ksize + x] =
                int32_t(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
        }
        c.first[size_t(xx)] = xmin;
        c.count[size_t(xx)] = xmax;
    }
    return c;
}

uint8_t clip8(int32_t v) {
    if (v >= (1 << kPrecisionBits) * 256) return 255;
    if (v <= 0) return 0;
    return uint8_t(v >> kPrecisionBits);
}

// One separable pass: out[o] = sum_i in[first[o] + i] * w[o][i], along rows or along columns.
void pass(const uint8_t* in, int in_stride, int in_step, uint8_t* out, int out_stride, int out_step,
          int lines, int out_size, const Coefficients& c) {
    for (int line = 0; line < lines; ++line)
        for (int o = 0; o < out_size; ++o) {
            int32_t acc = 1 << (kPrecisionBits - 1);
            const int32_t* w = &c.weights[size_t(o) * c.ksize];
            for (int i = 0; i < c.count[size_t(o)]; ++i)
                acc += int32_t(in[line * in_stride + (c.first[size_t(o)] + i) * in_step]) * w[i];
            out[line * out_stride + o * out_step] = clip8(acc);
        }
}

}  // namespace

void resize_bilinear(const uint8_t* src, int src_w, int src_h, uint8_t* dst, int dst_w, int dst_h) {
    if (src_w == dst_w && src_h == dst_h) {
        std::memcpy(dst, src, size_t(src_w) * src_h);
        return;
    }
    // Horizontal pass into (src_h x dst_w), then vertical into (dst_h x dst_w), as PIL does.
    std::vector<uint8_t> tmp(size_t(src_h) * dst_w);
    if (src_w != dst_w)
        pass(src, src_w, 1, tmp.data(), dst_w, 1, src_h, dst_w, coefficients(src_w, dst_w));
    else
        std::memcpy(tmp.data(), src, tmp.size());
    if (src_h != dst_h)
        pass(tmp.data(), 1, dst_w, dst, 1, dst_w, dst_w, dst_h, coefficients(src_h, dst_h));
    else
        std::memcpy(dst, tmp.data(), tmp.size());
}

}  // namespace googlenet
