// The size rules that the graph builder, the reference ops and the ONNX importer share, so that
// none of them can disagree with the others.
#pragma once
#include <cstdint>

namespace googlenet {

// How many positions a window of `kernel` takes along one side of `in` elements, with `stride`
// and `pad_begin`/`pad_end` padding, as PyTorch and ONNX count them (convolutions and pools).
// ceil_mode rounds up, but a last window must start inside the input or its leading padding
// (PyTorch's rule). 0 when the window does not fit once (C++'s division would say 1).
inline int64_t window_positions(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end,
                                bool ceil_mode = false) {
    const int64_t span = in + pad_begin + pad_end - kernel;
    if (span < 0) return 0;
    int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
    return out;
}

// The same with equal padding on both sides, for the int-sized maps of a network.
inline int window_positions(int in, int kernel, int stride, int pad, bool ceil_mode = false) {
    return int(window_positions(int64_t(in), int64_t(kernel), int64_t(stride), int64_t(pad), int64_t(pad), ceil_mode));
}

}  // namespace googlenet
