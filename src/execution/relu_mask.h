// The backward of a ReLU whose output is a value's data, applied in place to that value's
// gradient: dy *= (y > 0). Used by the op that owns the mask (Op::relu_mask): a convolution
// with a fused ReLU, or the max pool or concatenation it was handed on to.
#pragma once
#include <cstdint>
#include <cstring>

#include "core/runtime.h"

namespace googlenet {

class ReluMaskBackward {
public:
    void prepare(Runtime& rt, const Value& v) {
        bf16_ = v.type == DataType::bf16;
        if (bf16_ && v.layout == Layout::blocked) throw Error("internal: a ReLU mask on blocked bf16 data (" + v.name + ")");
        if (bf16_) return;
        md_ = desc_of(v);
        const auto alg = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
        auto hint = dnnl::eltwise_forward::primitive_desc(rt.engine, dnnl::prop_kind::forward_training, alg, md_, md_, 0.f, 0.f);
        bwd_ = dnnl::eltwise_backward(dnnl::eltwise_backward::primitive_desc(rt.engine, alg, md_, md_, md_, 0.f, 0.f, hint));
    }
    void apply(Runtime& rt, Value& v) {
        if (bf16_) return apply_bf16(v);
        auto dy = rt.mem(md_, v.grad.data());
        bwd_.execute(rt.stream, {{DNNL_ARG_DST, rt.mem(md_, v.data.data())}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, dy}});
    }

private:
    // bf16 data, f32 gradient (mixed precision): oneDNN 3.2's eltwise backward wants one type for
    // both, so this one loop does it. Both are in the same layout, element for element.
    static void apply_bf16(Value& v) {
        const uint16_t* y = reinterpret_cast<const uint16_t*>(v.data.data());
        float* dy = v.grad.data();
        const long n = long(v.shape.n) * v.shape.c * v.shape.h * v.shape.w;
#pragma omp parallel for simd
        for (long i = 0; i < n; ++i) {
            const uint32_t bits = uint32_t(y[i]) << 16;
            float yf;
            std::memcpy(&yf, &bits, sizeof yf);
            dy[i] = yf > 0.f ? dy[i] : 0.f;
        }
    }

    bool bf16_ = false;
    dnnl::memory::desc md_;
    dnnl::eltwise_backward bwd_;
};

}  // namespace googlenet
