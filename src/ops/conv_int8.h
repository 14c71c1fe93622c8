// A convolution's int8 inference (Options::precision int8), beside its fp32 and bf16 paths in
// conv.cpp: u8 activations (a signed input's around a zero point of 128) and s8 weights with one scale per output channel, summed in
// int32 on oneDNN's VNNI or AMX kernels (channels-last), the bias added in f32, the ReLU fused;
// the output is u8 codes at the output value's scale, or f32 where an f32 op reads it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/runtime.h"
#include "googlenet/graph.h"

namespace googlenet {

class Int8Conv {
public:
    // `in` and `out` as the plan laid them out, with their types and scales (Value::scale).
    void prepare(Runtime& rt, const Value& in, const Value& out, int in_channels, const ConvSpec& spec, bool relu, bool bias);
    // weights: OIHW f32 (the arena's, or with a batch norm folded in); bias: f32 (if prepared with one). The
    // weights are quantized again whenever Runtime::weights_epoch has moved.
    void forward(Runtime& rt, const float* weights, const float* bias, const Value& in, Value& out);
    std::string kernel() const { return kernel_; }
    // The scale of each output channel's weights, as the last forward quantized them.
    const std::vector<float>& weight_scales() const { return weight_scales_; }

private:
    void quantize_weights(Runtime& rt, const float* weights);
    dnnl::memory zero_point_memory(Runtime& rt);

    int cin_ = 0;
    ConvSpec spec_{0, 1};
    dnnl::memory::desc in_md_, src_md_, dst_md_, bias_md_, user_wei_md_;
    dnnl::reorder to_codes_;  // an f32 input to the convolution's codes (none where it is u8 already)
    dnnl::reorder wei_reorder_;
    dnnl::memory wei_;  // the s8 weights in the primitive's layout
    dnnl::convolution_forward fwd_;
    std::vector<int8_t> codes_;  // the quantized weights, OIHW
    std::vector<float> weight_scales_;
    float src_scale_ = 1.f, dst_scale_ = 1.f;
    int32_t zero_point_ = 0;  // of the input's codes: 128 for a signed f32 or bf16 input
    bool int8_dst_ = false;
    bool ready_ = false;  // wei_ holds the weights of epoch_
    uint64_t epoch_ = 0;
    std::string kernel_;
};

}  // namespace googlenet
