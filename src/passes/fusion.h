// The fusion passes: what runs of a graph's nodes, as data. They read the graph alone (its nodes'
// kinds, inputs and flags), so each is tested on a graph without a Net (tests/test_passes.cpp).
#pragma once
#include <cstddef>
#include <vector>

#include "googlenet/graph.h"

namespace googlenet {

// One op that runs: the node it computes, the value it writes (a fused ReLU's or a folded batch
// norm's output) and where the ReLU mask of its output's gradient is applied.
struct FusedOp {
    size_t node;
    std::vector<ValueId> inputs;
    ValueId output;
    bool fused_relu = false;
    ReluMask relu_mask = ReluMask::none;
    int folded_norm = -1;  // a convolution's: the node of the batch norm folded into it, or -1
    // The type its arithmetic reads: bf16 for a convolution the precision pass gives to the bf16
    // units (src/passes/precision.h), else f32; the op takes it from here (Op::compute).
    DataType compute = DataType::f32;
};

// Every node of `g`, in order, except each ReLU whose input comes from a convolution or a batch
// norm and goes nowhere else (and is not the network's output): that ReLU becomes part of the op
// before it (a convolution's post-op; batch norm's fuse_norm_relu, whose backward applies the
// mask from its workspace), one pass over memory fewer forward and one backward, and the
// pre-activation tensor is never stored. That op then owns the mask.
// With `fold_norms` (plans for evaluation, where batch norm is a fixed affine map per channel),
// first each batch norm whose input comes from a convolution (without a fused ReLU) and goes
// nowhere else is folded into that convolution's weights and bias, as ONNX Runtime and OpenVINO
// do; a ReLU after the batch norm then fuses as after the convolution (torchvision's
// conv -> batch norm -> ReLU becomes one op).
std::vector<FusedOp> fuse_ops(const Graph& g, bool fold_norms = false);

// A fused ReLU's backward needs its output y until backward runs. When y's only reader is a max
// pool or a concatenation, that op's output is positive exactly where the y it came from was (a
// max is positive iff the winning element is; a concatenation copies), so the mask can be applied
// to that output's gradient before the op's own backward, and y dies as soon as it has been read
// forward. Chains hand on further (paths -> concatenation -> max pool). Pooling scatters each
// gradient to its window's winner, so masking before or after is the same.
void hand_on_relu_masks(const Graph& g, std::vector<FusedOp>& ops);

// Evaluation runs no auxiliary classifier: its ops leave the plan, so nothing of them is planned
// or prepared, and the values they read take the types and layouts of the main path's readers
// alone (in bf16, torchvision's 4a and 4d outputs stay bf16 instead of f32 for the heads).
void drop_auxiliaries(const Graph& g, std::vector<FusedOp>& ops);

// How many ops read each value, by value id.
std::vector<int> reader_counts(const std::vector<FusedOp>& ops, int values);

}  // namespace googlenet
