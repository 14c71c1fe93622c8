#include "ops/conv_int8.h"

#include "googlenet/quantize.h"

namespace googlenet {

using dnnl::memory;
using tag = memory::format_tag;

void Int8Conv::prepare(Runtime& rt, const Value& in, const Value& out, int in_channels, const ConvSpec& spec, bool relu, bool bias) {
    if (in.scale <= 0.f || (out.type == DataType::u8 && out.scale <= 0.f))
        throw Error("internal: int8 convolution planned without scales");
    cin_ = in_channels, spec_ = spec;
    const int k = spec.kernel;
    in_md_ = desc_of(in);
    // Always u8: a signed input gets codes around a zero point of 128 (oneDNN's s8 inputs would
    // have it halve the weights' precision where the CPU has no VNNI).
    src_md_ = desc_of(in.shape, Layout::nhwc, DataType::u8);
    src_scale_ = in.scale;
    zero_point_ = in.type != DataType::u8 && in.signed_codes ? 128 : 0;
    to_codes_ = dnnl::reorder();
    if (in.type == DataType::f32 || in.type == DataType::bf16) {
        // real = scale * (code - zero point): the reorder divides by its destination's scale.
        dnnl::primitive_attr attr;
        attr.set_scales_mask(DNNL_ARG_DST, 0);
        if (zero_point_) attr.set_zero_points_mask(DNNL_ARG_DST, 0);
        to_codes_ = dnnl::reorder(dnnl::reorder::primitive_desc(rt.engine, in_md_, rt.engine, src_md_, attr));
    } else if (in_md_ != src_md_) {
        throw Error("internal: int8 convolution reads codes that are not channels-last");
    }
    int8_dst_ = out.type == DataType::u8;
    dst_scale_ = out.scale;
    dst_md_ = desc_of(out);
    user_wei_md_ = memory::desc({spec.out_channels, cin_, k, k}, memory::data_type::s8, tag::oihw);
    const memory::desc wei_any({spec.out_channels, cin_, k, k}, memory::data_type::s8, tag::any);
    bias_md_ = bias ? memory::desc({spec.out_channels}, memory::data_type::f32, tag::a) : memory::desc();
    dnnl::primitive_attr attr;
    attr.set_scales_mask(DNNL_ARG_SRC, 0);
    attr.set_scales_mask(DNNL_ARG_WEIGHTS, 1 << 0);  // per output channel
    if (int8_dst_) attr.set_scales_mask(DNNL_ARG_DST, 0);
    if (zero_point_) attr.set_zero_points_mask(DNNL_ARG_SRC, 0);
    if (relu) {
        dnnl::post_ops ops;
        ops.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
        attr.set_post_ops(ops);
    }
    const memory::dims strides{spec.stride, spec.stride}, pad{spec.pad, spec.pad};
    auto pd = dnnl::convolution_forward::primitive_desc(rt.engine, dnnl::prop_kind::forward_inference,
                                                        dnnl::algorithm::convolution_direct, src_md_, wei_any, bias_md_,
                                                        dst_md_, strides, pad, pad, attr);
    fwd_ = dnnl::convolution_forward(pd);
    wei_ = memory(pd.weights_desc(), rt.engine);
    wei_reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(rt.engine, user_wei_md_, rt.engine, pd.weights_desc()));
    codes_.assign(size_t(spec.out_channels) * size_t(cin_) * size_t(k) * size_t(k), 0);
    weight_scales_.assign(size_t(spec.out_channels), 1.f);
    ready_ = false;
    kernel_ = std::string("int8 ") + (to_codes_ ? "(from " + std::string(in.type == DataType::bf16 ? "bf16" : "f32") + ") " : "") +
              pd.impl_info_str();
}

memory Int8Conv::zero_point_memory(Runtime& rt) {
    return memory(memory::desc({1}, memory::data_type::s32, tag::a), rt.engine, &zero_point_);
}

void Int8Conv::quantize_weights(Runtime& rt, const float* weights) {
    const size_t per_channel = size_t(cin_) * size_t(spec_.kernel) * size_t(spec_.kernel);
    const int limit = weight_code_limit();
    for (int o = 0; o < spec_.out_channels; ++o) {
        const float* w = weights + size_t(o) * per_channel;
        const float s = weight_scale(w, per_channel, limit);
        weight_scales_[size_t(o)] = s;
        int8_t* q = codes_.data() + size_t(o) * per_channel;
        for (size_t i = 0; i < per_channel; ++i) q[i] = int8_t(quantize(w[i], s, -limit, limit));
    }
    wei_reorder_.execute(rt.stream, {{DNNL_ARG_FROM, memory(user_wei_md_, rt.engine, codes_.data())}, {DNNL_ARG_TO, wei_}});
}

void Int8Conv::forward(Runtime& rt, const float* weights, const float* bias, const Value& in, Value& out) {
    if (!ready_ || epoch_ != rt.state.weights_epoch) {
        quantize_weights(rt, weights);
        ready_ = true;
        epoch_ = rt.state.weights_epoch;
    }
    const memory::desc scalar({1}, memory::data_type::f32, tag::a);
    memory src = rt.mem(in_md_, in.data.data());
    if (to_codes_) {
        memory codes = rt.mem(src_md_, rt.transient(0, (src_md_.get_size() + sizeof(float) - 1) / sizeof(float)));
        std::unordered_map<int, memory> args{{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, codes}, {DNNL_ARG_ATTR_SCALES | DNNL_ARG_DST, rt.mem(scalar, &src_scale_)}};
        if (zero_point_) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST] = zero_point_memory(rt);
        to_codes_.execute(rt.stream, args);
        src = codes;
    }
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src},
        {DNNL_ARG_WEIGHTS, wei_},
        {DNNL_ARG_DST, rt.mem(dst_md_, out.data.data())},
        {DNNL_ARG_ATTR_SCALES | DNNL_ARG_SRC, rt.mem(scalar, &src_scale_)},
        {DNNL_ARG_ATTR_SCALES | DNNL_ARG_WEIGHTS,
         rt.mem(memory::desc({spec_.out_channels}, memory::data_type::f32, tag::a), weight_scales_.data())}};
    if (int8_dst_) args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_DST] = rt.mem(scalar, &dst_scale_);
    if (zero_point_) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = zero_point_memory(rt);
    if (bias) args[DNNL_ARG_BIAS] = rt.mem(bias_md_, bias);
    fwd_.execute(rt.stream, args);
}

}  // namespace googlenet
