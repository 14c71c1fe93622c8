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

}  // namespace googlenet
