// The precision pass (Options::precision bf16, in training and evaluation): which values hold bf16,
// and the channels-last layout the bf16 convolutions run on. Gradients stay f32.
#pragma once
#include <vector>

#include "googlenet/graph.h"
#include "googlenet/options.h"
#include "passes/fusion.h"

namespace googlenet {

// Whether the fused op `op` runs as a bf16 convolution: at least `min_channels` input channels
// (bf16_min_channels), and not part of an auxiliary classifier (small, and run in training only).
bool runs_bf16(const Graph& g, const FusedOp& op, int min_channels);

// Each value's type, each bf16 convolution's FusedOp::compute, and `layouts` changed where bf16
// needs it. A value holds bf16 where the op
// that writes it and every op that reads it run oneDNN primitives that take bf16: bf16
// convolutions, and max pools, concatenations, batch norms and ReLUs outside the auxiliary heads
// (each of those with all its values of one type). The image, the logits and all else stay f32;
// a bf16 convolution reads an f32 input through a conversion of its own, and may write f32. What
// the bf16 convolutions write, and every op after an NHWC value, is NHWC: oneDNN 3.2's AMX
// kernels (brgconv) take no blocked layout, and its kernels that change the layout on the way
// are its reference loops.
std::vector<DataType> choose_types(const Graph& g, std::vector<FusedOp>& ops, std::vector<Layout>& layouts,
                                   int min_channels);

// The int8 plan (Options::precision int8, evaluation only): each convolution outside the auxiliary
// heads with at least `int8_min_channels` input channels computes in int8 (FusedOp::compute s8);
// one with fewer (a stem), in bf16 with at least `bf16_min_channels`, else in f32. A value holds
// u8 codes where the op that writes it and every op that reads it take them: int8 convolutions
// (writing u8 only after their ReLU, as what they write is then never negative) and max pools and
// concatenations, each with all its values of one type; bf16 likewise between a bf16 convolution
// and the pools and int8 convolutions that read it. The rest (the image, the global pool, the
// classifier) stays f32, and layouts change as for bf16.
std::vector<DataType> choose_int8_types(const Graph& g, std::vector<FusedOp>& ops, std::vector<Layout>& layouts,
                                        int int8_min_channels, int bf16_min_channels);

// Each value's int8 scale (real = scale * code) from its calibrated range [lo, hi]: a u8 value's
// is its top over 255, the same for all the u8 values of a max pool or a concatenation (the
// greatest top among them), so that those ops copy codes; an f32 value's, for the int8
// convolutions that read it, over 255 where it is never negative, else (signed_codes) its
// greatest magnitude over 127.
std::vector<float> int8_scales(const std::vector<FusedOp>& ops, const std::vector<DataType>& types,
                               const std::vector<float>& lo, const std::vector<float>& hi, std::vector<bool>& signed_codes);

}  // namespace googlenet
