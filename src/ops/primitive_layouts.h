// Tensors in the layout a oneDNN primitive picked (format_tag::any), beside the engine's own
// copy: weights in the arena's PyTorch layout (OIHW, OI), and activations a primitive needs in
// plain NCHW. Shared by the convolution and the linear layer.
#pragma once
#include <dnnl.hpp>

#include "core/runtime.h"

namespace googlenet {

// Weights (or their gradient) in the layout a primitive picked, kept beside the arena's OIHW copy:
// a buffer and reorders when the two layouts differ, nothing when they agree.
class PrimitiveWeights {
public:
    PrimitiveWeights() = default;
    PrimitiveWeights(Runtime& rt, const dnnl::memory::desc& user, const dnnl::memory::desc& primitive)
        : user_(user), primitive_(primitive) {
        if (user != primitive) buffer_ = dnnl::memory(primitive, rt.engine);
    }
    // The arena's weights `user`, as the primitive wants them. In evaluation the weights stay put,
    // so the reorder is done once per Runtime::weights_epoch (at batch 1 it was a large share of
    // oneDNN's time: docs/performance.md); in training SGD moves them every step.
    dnnl::memory from_user(Runtime& rt, const float* user) {
        if (!buffer_) return rt.mem(user_, user);
        if (!rt.state.training && reordered_ && reordered_epoch_ == rt.state.weights_epoch) return buffer_;
        if (!to_primitive_) to_primitive_ = dnnl::reorder(dnnl::reorder::primitive_desc(rt.engine, user_, rt.engine, primitive_));
        to_primitive_.execute(rt.stream, {{DNNL_ARG_FROM, rt.mem(user_, user)}, {DNNL_ARG_TO, buffer_}});
        reordered_ = !rt.state.training;
        reordered_epoch_ = rt.state.weights_epoch;
        return buffer_;
    }
    // Where the primitive writes a gradient; copy_to_user then puts it into the arena's `user`.
    dnnl::memory target(Runtime& rt, float* user) { return buffer_ ? buffer_ : rt.mem(user_, user); }
    void copy_to_user(Runtime& rt, float* user) {
        if (!buffer_) return;
        if (!to_user_) to_user_ = dnnl::reorder(dnnl::reorder::primitive_desc(rt.engine, primitive_, rt.engine, user_));
        to_user_.execute(rt.stream, {{DNNL_ARG_FROM, buffer_}, {DNNL_ARG_TO, rt.mem(user_, user)}});
    }

private:
    dnnl::memory::desc user_, primitive_;
    dnnl::memory buffer_;
    bool reordered_ = false;  // buffer_ holds the weights of reordered_epoch_, for evaluation
    uint64_t reordered_epoch_ = 0;
    dnnl::reorder to_primitive_, to_user_;
};

// An activation copied into the layout a primitive needs, plain NCHW or (for bf16 convolutions)
// bf16 NHWC; nothing if it already is. The copy is a buffer of its own, or with `transient_slot`
// the runtime's transient buffer of that slot (Runtime::transient), valid until the slot's next use.
class Plain {
public:
    Plain() = default;
    Plain(Runtime& rt, const dnnl::memory::desc& from, const dnnl::memory::desc& to, int transient_slot = -1)
        : to_(to), slot_(transient_slot) {
        if (from == to) return;
        if (slot_ < 0) buffer_ = dnnl::memory(to, rt.engine);
        reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(rt.engine, from, rt.engine, to));
    }
    dnnl::memory of(Runtime& rt, dnnl::memory m) {
        if (!reorder_) return m;
        dnnl::memory to = slot_ < 0 ? buffer_ : rt.mem(to_, rt.transient(slot_, (to_.get_size() + sizeof(float) - 1) / sizeof(float)));
        reorder_.execute(rt.stream, {{DNNL_ARG_FROM, m}, {DNNL_ARG_TO, to}});
        return to;
    }
    // The copy the last of() made (m itself when no copy is needed), without copying again
    // (own buffers only).
    dnnl::memory last(dnnl::memory m) const { return buffer_ ? buffer_ : m; }

private:
    dnnl::memory::desc to_;
    int slot_ = -1;
    dnnl::memory buffer_;
    dnnl::reorder reorder_;
};

}  // namespace googlenet
