#include "ops/ops.h"

namespace googlenet {

std::unique_ptr<Op> make_op(const Node& node, const Shape& in, ParamStore& params, uint64_t salt) {
    const OpAttributes& a = node.op;
    switch (a.kind) {
        case OpAttributes::conv:
            return make_conv(params, in.c, ConvSpec{a.out_channels, a.kernel_h, a.stride, a.pad, a.bias}, node.param_name);
        case OpAttributes::relu: return make_relu();
        case OpAttributes::max_pool: return make_max_pool(a.kernel_h, a.stride, a.pad, a.ceil_mode);
        case OpAttributes::avg_pool: return make_avg_pool(a.kernel_h, a.kernel_w, a.stride, a.pad);
        case OpAttributes::adaptive_avg_pool: return make_adaptive_avg_pool(a.out_h, a.out_w);
        case OpAttributes::batch_norm: return make_batch_norm(params, in.c, a.eps, a.momentum, node.param_name);
        case OpAttributes::lrn: return make_lrn(a.size, a.alpha, a.beta, a.k);
        case OpAttributes::dropout: return make_dropout(a.p, salt);
        case OpAttributes::concat: return make_concat();
        case OpAttributes::linear: return make_linear(params, int(in.per_image()), a.out_channels, node.param_name);
        case OpAttributes::normalize: return make_normalize(a.mean, a.stddev);
    }
    throw Error("internal: no op for node kind " + std::to_string(int(a.kind)));
}

}  // namespace googlenet
