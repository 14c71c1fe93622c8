// What a Net is made of: values (an activation, its gradient, its shape and layout) and the ops
// that compute them, each with its forward and backward (src/ops/, one file per op). An op sees
// the Runtime it is handed (src/core/runtime.h) and its inputs and output, nothing of the Net.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "googlenet/graph.h"
#include "googlenet/options.h"
#include "googlenet/tensor.h"

namespace googlenet {

struct Value {
    ValueId id = 0;  // as in the graph
    std::string name;
    Shape shape;  // shape.n is the batch size set by Net::set_batch
    Layout layout = Layout::nchw;
    // Of the data and its gradient. bf16 only where every op that writes or reads it runs oneDNN
    // primitives (src/passes/precision.h); data.data() and grad.data() are then no float arrays,
    // and their size() counts the floats their memory spans.
    DataType type = DataType::f32;
    // In an int8 plan: the scale of its codes (real = scale * code), and for an f32 value that an
    // int8 convolution reads, of the codes that convolution converts it to (around a zero point of
    // 128 where the value goes below zero: `signed_codes`). 0 where none.
    float scale = 0;
    bool signed_codes = false;
    // In the Net's activation arena, where values whose data is never needed at the same time
    // share memory: a value lives from the op that writes it to its last reader, forward or (for
    // what an op saves for backward) backward.
    TensorView data;
    // In the Net's gradient arena, where values whose gradients are never alive at the same time
    // during backward share memory. Empty when no gradient flows into this value (the image).
    TensorView grad;
    bool needs_grad = true;
    bool grad_written = false;  // during backward: has some consumer written grad yet?
    bool live = true;           // false once fusion has made the value disappear into an op
};

class Runtime;


class Op {
public:
    virtual ~Op() = default;
    // "conv 7x7/2 1->64", for summaries and errors: as graph.h's describe() says it.
    std::string describe() const { return googlenet::describe(attributes(), inputs.at(0)->shape, inputs.size()); }
    // Which kernel runs each pass, for profiles: "forward | backward-data | backward-weights"
    // (oneDNN's implementation names, or ours); empty where the op does not say. Set by prepare.
    virtual std::string kernels() const { return {}; }
    virtual void prepare(Runtime& rt) = 0;     // the batch size is known: create primitives
    virtual void forward(Runtime& rt) = 0;
    virtual void backward(Runtime& rt) = 0;
    // Multiply-adds of the forward pass for one image (as PyTorch's hook-based counters count them).
    virtual int64_t macs_per_image() const { return 0; }
    virtual std::vector<int> param_indices() const { return {}; }  // into the Net's ParamStore
    virtual std::vector<int> buffer_indices() const { return {}; }  // its buffers in the ParamStore
    virtual OpAttributes attributes() const = 0;
    // Evaluation with paths side by side (Parallel::batch) can give one op's forward to
    // several threads at once, each computing a range of output channels: can_split_forward says
    // whether this op can (checked after set_batch has laid out the values), prepare_parts makes
    // `parts` such ranges, and forward_part computes one.
    virtual bool can_split_forward() const { return false; }
    virtual void prepare_parts(Runtime& /*rt*/, int /*parts*/) {}
    virtual void forward_part(Runtime& rt, int /*part*/) { forward(rt); }
    // Asks the op to apply ReLU to its own output (a oneDNN post-op), or no longer to (`on`
    // false: each plan fuses afresh); false if it cannot. An op that accepts owns the mask
    // (relu_mask).
    virtual bool fuse_relu(bool /*on*/) { return false; }
    // Asks the op to fold `norm`, an evaluation-mode batch norm that reads only this op's output,
    // into its own weights and bias (nullptr: unfold); false if it cannot. The op then writes the
    // batch norm's output and has no backward. A batch norm's param_indices() are its weight and
    // bias, its buffer_indices() begin with the running mean and variance.
    virtual bool fold_norm(const Op* /*norm*/) { return false; }
    // The executor applies an owned ReLU mask to the output's gradient before the op's backward,
    // unless the op applies it itself within its own pass over that gradient (set after prepare).
    virtual bool applies_relu_mask() const { return false; }
    // The values whose data backward reads: they live until then. By default every input and
    // the output, which is always safe.
    virtual std::vector<const Value*> saved_for_backward() const {
        std::vector<const Value*> saved(inputs.begin(), inputs.end());
        saved.push_back(output);
        return saved;
    }

    std::vector<Value*> inputs;
    Value* output = nullptr;
    bool auxiliary = false;  // part of an auxiliary classifier: runs in training only
    // own: backward starts with dy *= (y > 0) on the output's gradient (applied by the executor);
    // handed_on: the output's only reader owns it instead (its output has the same zeros), so y
    // need not be saved.
    ReluMask relu_mask = ReluMask::none;
    // The type its arithmetic reads, as the plan's precision pass chose (src/passes/precision.h):
    // bf16 for a convolution on the bf16 units, whatever its input's and output's types; set before
    // prepare.
    DataType compute = DataType::f32;
};

}  // namespace googlenet
