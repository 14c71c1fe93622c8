// Winograd F(2x2, 3x3) forward convolution for 3x3, stride-1, pad-1 convolutions in the blocked
// layout (nChw16c / nChw8c): 16 multiplies for every 2x2 outputs where the direct method does 36.
//
// Written here because oneDNN 3.2 has no f32 Winograd on this CPU (bench/onednn_probe) while its
// direct kernels already run at 95-98% of the machine's FMA peak (docs/performance.md): fewer
// multiplies are the only way to go faster. The 16 products of each tile batch are oneDNN matmuls;
// what is ours are the transforms (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016), done a chunk of tiles at a time so that the transformed tiles stay in cache.
#pragma once
#include <dnnl.hpp>

#include "core/runtime.h"

namespace googlenet {

class WinogradConv {
public:
    // Whether the forward of this convolution can go through Winograd here, and is faster there.
    // GOOGLENET_WINOGRAD=0 turns it off everywhere, for measuring.
    static bool applies(int kernel, int stride, int pad, Layout src, Layout dst, const Shape& out);

    void prepare(Runtime& rt, const Shape& in, const Shape& out, bool relu);
    // weights: OIHW (K x C x 3 x 3); bias may be null. Weights are transformed again only when
    // `weights_version` changes.
    void forward(Runtime& rt, const float* src, const float* weights, const float* bias, float* dst, uint64_t weights_version);

private:
    void transform_weights(Runtime& rt, const float* weights);

    Shape in_, out_;
    bool relu_ = false;
    int lanes_ = 16, cp_ = 0, kp_ = 0, tiles_h_ = 0, tiles_w_ = 0, chunk_ = 0;
    long tiles_ = 0;
    Buffer v_, m_, u_plain_;
    dnnl::memory u_;
    dnnl::matmul matmul_;
    dnnl::memory::desc v_md_, m_md_;
    bool have_weights_ = false;
    uint64_t weights_version_ = 0;
};

}  // namespace googlenet
