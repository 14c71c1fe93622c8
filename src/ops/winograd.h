// Winograd F(m x m, r x r) for stride-1 convolutions that keep the map size in the blocked layout
// (nChw16c / nChw8c), all three passes: 3x3 kernels with m = 2, 3, 4 or 6, 5x5 with m = 2, 3 or 4.
// (m+r-1)^2 multiplies for every m x m outputs where the direct method does r^2 m^2 (F(6x6, 3x3):
// 64 for 36 outputs instead of 324; F(4x4, 5x5): 64 for 16 instead of 400). The tile size is
// picked per map size and pass (tile_for).
//
// Written here because oneDNN 3.2 has no f32 Winograd on this CPU (bench/onednn_probe) while its
// direct kernels already run near the machine's FMA peak (docs/performance.md): fewer
// multiplies are the only way to go faster. The (m+r-1)^2 products of each tile batch are oneDNN matmuls;
// what is ours are the transforms (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016), done a chunk of tiles at a time so that the transformed tiles stay in cache.
// Tested against include/googlenet/reference.h's loops (tests/test_ops_reference.cpp).
#pragma once
#include <dnnl.hpp>

#include <vector>

#include "core/runtime.h"

namespace googlenet {

class WinogradConv {
public:
    // Whether the forward of this convolution can go through Winograd here, and is faster there,
    // with tiles up to max_tile (Options::winograd_max_tile; 0: never).
    static bool applies(int kernel, int stride, int pad, Layout src, Layout dst, int in_channels, const Shape& out,
                        int max_tile);
    // The tile size m for this output (its batch too), kernel and pass: the fewest multiplies per
    // output, counting tiles that hang over the map's edge, plus reading U, which counts at small
    // batches. Forward takes no tile above 6 points (its rounding decides ReLU and max-pool
    // outcomes). 3x3 at batch 128: forward F(4x4) on 24x24 and 12x12 maps, F(3x3) on 6x6 and
    // 3x3; backward-data F(6x6) on 24x24, 12x12 and 6x6; backward-weights F(6x6) on 24x24 and
    // 12x12, F(3x3) on 6x6 and 3x3. 5x5: only on maps of 12x12 and up (forward F(2x2), the
    // backward passes F(4x4)). 0: direct is cheaper (3x3 maps at batch 1, 5x5 on small maps).
    // max_tile (Options::winograd_max_tile) allows no tile above it.
    enum class Pass { forward, backward_data, backward_weights };
    static constexpr int kLargestTile = 6;
    static int tile_for(const Shape& out, int kernel, Pass pass = Pass::forward, int max_tile = kLargestTile);

    // kernel: 3 or 5 (pad kernel / 2, stride 1); tile: m, or 0 for tile_for(out, kernel).
    void prepare(Runtime& rt, const Shape& in, const Shape& out, int kernel, bool relu, int tile = 0);
    int tile() const { return m_; }
    // Transforms the weights, OIHW. For a convolution's backward-data pass (an r x r convolution of
    // the output's gradient with the weights flipped and input and output channels swapped), pass
    // the forward convolution's weights and `backward_data`.
    void set_weights(Runtime& rt, const float* weights, bool backward_data = false);
    // Whether the last set_weights kept U for the following forwards (small evaluation batches);
    // otherwise set_weights must come again before each forward.
    bool keeps_weights() const { return keeps_weights_; }
    // bias may be null. dst: every channel, including the layout's padding, is written.
    void forward(Runtime& rt, const float* src, const float* bias, float* dst);
    // Whether backward_weights runs here (large enough problems: each thread sums its own tiles).
    bool has_backward_weights() const { return per_thread_; }
    // The same before prepare, for an output of this shape and tile m.
    static bool has_backward_weights(const Shape& out, int m);
    // The weights' gradient (OIHW, overwritten) and the bias's (if not null) from the input and
    // the output's gradient (blocked, with any ReLU mask already applied): dU = V^T dM summed over
    // tiles, dM = A dY A^T, dW = G^T dU G.
    void backward_weights(Runtime& rt, const float* src, const float* diff_dst, float* diff_weights, float* diff_bias);

private:
    void input_tile_row(const float* src, long t0, int t, float* v) const;
    template <class Body>
    void each_chunk_per_thread(float* v_all, float* m_all, bool balanced, const Body& body) const;

    Shape in_, out_;
    bool relu_ = false;
    int m_ = 2, r_ = 3, a2_ = 16, lanes_ = 16, cp_ = 0, kp_ = 0, tiles_h_ = 0, tiles_w_ = 0, chunk_ = 0;
    long tiles_ = 0;

    std::vector<float> bias_padded_;  // the bias over every channel of the layout, padding zero
    int threads_ = 1;
    bool keeps_weights_ = false;
    bool per_thread_ = true;  // each thread takes whole chunks, or all share each chunk
    dnnl::memory::desc u_md_;
    dnnl::memory u_, own_u_;  // U in use: Runtime's shared buffer (training) or own_u_ (evaluation)
    std::vector<dnnl::memory> scratchpads_;  // one per thread
    std::vector<dnnl::stream> streams_;
    dnnl::matmul matmul_, dweights_matmul_, dweights_first_matmul_;
    dnnl::memory::desc v_md_, m_md_, vt_md_, du_md_;
    std::vector<dnnl::memory> dweights_scratchpads_, dweights_first_scratchpads_;
    std::vector<char> started_;  // backward_weights: per thread, whether its dU has its first products
};

}  // namespace googlenet
