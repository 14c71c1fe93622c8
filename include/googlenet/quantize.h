// Post-training quantization for int8 inference (Options::precision int8): the activations'
// ranges from calibration, and the rounding every int8 path and its tests share.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace googlenet {

class Net;

// The range each value of a network took on the calibration images, by ValueId (Net::value):
// lo[v] <= every element <= hi[v]. Values calibration never saw (the auxiliary heads') are 0.
struct ActivationRanges {
    std::vector<float> lo, hi;
    bool empty() const { return hi.empty(); }
};

// Runs `net` in evaluation, fp32, every op on all threads, over the n images (n x C x H x W, in
// batches of `batch`) and returns each value's least and greatest element (min-max calibration).
// The net's options and training mode are as before afterwards.
ActivationRanges calibrate(Net& net, const float* images, int n, int batch = 64);

// The greatest weight code on this CPU: 127, or 63 where oneDNN's int8 kernels have no VNNI and
// sum pairs of u8 x s8 products in int16 (255 * 127 * 2 overflows it; 255 * 63 * 2 does not), as
// PyTorch's fbgemm reduces the range there. In src/core/precision.cpp (it asks oneDNN).
int weight_code_limit();

// The symmetric per-output-channel weight scale of `count` weights: their greatest magnitude
// over `limit` (weight_code_limit()), 1 where all are zero.
inline float weight_scale(const float* w, size_t count, int limit) {
    float top = 0.f;
    for (size_t i = 0; i < count; ++i) top = std::fmax(top, std::fabs(w[i]));
    return top > 0.f ? top / float(limit) : 1.f;
}

// x / scale rounded to the nearest code (ties to even, as oneDNN rounds) and saturated to [lo, hi].
inline int quantize(float x, float scale, int lo, int hi) {
    const float q = std::nearbyint(x / scale);
    if (!(q > float(lo))) return lo;  // NaN too
    return q > float(hi) ? hi : int(q);
}

}  // namespace googlenet
