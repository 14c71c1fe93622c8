// The backward of a ReLU whose output is a value's data, applied in place to that value's
// gradient: dy *= (y > 0). Used by the op that owns the mask (Op::relu_mask): a convolution
// with a fused ReLU, or the max pool or concatenation it was handed on to.
#pragma once
#include "core/runtime.h"

namespace googlenet {

class ReluMaskBackward {
public:
    // The value's data and gradient are of one type and layout (f32, or bf16 in mixed precision).
    void prepare(Runtime& rt, const Value& v) {
        md_ = desc_of(v);
        const dnnl::memory::desc& md = md_;
        const auto alg = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
        auto hint = dnnl::eltwise_forward::primitive_desc(rt.engine, dnnl::prop_kind::forward_training, alg, md, md, 0.f, 0.f);
        bwd_ = dnnl::eltwise_backward(dnnl::eltwise_backward::primitive_desc(rt.engine, alg, md, md, md, 0.f, 0.f, hint));
    }
    void apply(Runtime& rt, Value& v) {
        auto dy = rt.mem(md_, v.grad.data());
        bwd_.execute(rt.stream, {{DNNL_ARG_DST, rt.mem(md_, v.data.data())}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, dy}});
    }

private:
    dnnl::memory::desc md_;
    dnnl::eltwise_backward bwd_;
};

}  // namespace googlenet
