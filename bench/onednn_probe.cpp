// Which oneDNN kernels this machine gets for the choices docs/performance.md rules out: Winograd
// convolution, and convolutions (or the ReLU backward) writing into a channel slice of a larger
// tensor, which copy-free concatenation would need. Prints, for each, the implementation oneDNN
// picks ("ref:any" is its reference loop) or why it has none. Measures nothing; asserts nothing.
//
// Usage: onednn_probe
#include <dnnl.hpp>

#include <cstdio>
#include <functional>
#include <string>

namespace {

using dnnl::memory;
using tag = memory::format_tag;

void report(const char* what, const std::function<std::string()>& pick) {
    std::string impl;
    try {
        impl = pick();
    } catch (const dnnl::error& e) {
        impl = std::string("none (") + e.what() + ")";
    }
    std::printf("%-62s %s\n", what, impl.c_str());
}

const char* isa_name(dnnl::cpu_isa isa) {
    using I = dnnl::cpu_isa;
    switch (isa) {
        case I::avx512_core_amx: return "avx512_core_amx";
        case I::avx512_core_bf16: return "avx512_core_bf16";
        case I::avx512_core_vnni: return "avx512_core_vnni";
        case I::avx512_core: return "avx512_core";
        case I::avx2_vnni: return "avx2_vnni";
        case I::avx2: return "avx2";
        default: return "other";
    }
}

}  // namespace

int main() {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    const auto f32 = memory::data_type::f32;
    const tag blocked = dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core ? tag::nChw16c : tag::nChw8c;
    std::printf("oneDNN %d.%d.%d, ISA %s\n", dnnl::version()->major, dnnl::version()->minor, dnnl::version()->patch,
                isa_name(dnnl::get_effective_cpu_isa()));
    // D2L's block 3b: 3x3 convolution 128 -> 192 on 12x12 maps, batch 128.
    const memory::desc src({128, 128, 12, 12}, f32, blocked), dst({128, 192, 12, 12}, f32, blocked);
    const memory::desc wei({192, 128, 3, 3}, f32, tag::any), bias({192}, f32, tag::a);
    const memory::dims stride{1, 1}, pad{1, 1};
    auto conv = [&](dnnl::algorithm alg, const memory::desc& out) {
        return dnnl::convolution_forward::primitive_desc(eng, dnnl::prop_kind::forward_training, alg, src, wei, bias, out,
                                                         stride, pad, pad);
    };
    report("3x3 convolution, direct, forward", [&] { return conv(dnnl::algorithm::convolution_direct, dst).impl_info_str(); });
    report("3x3 convolution, Winograd, forward", [&] { return conv(dnnl::algorithm::convolution_winograd, dst).impl_info_str(); });
    report("3x3 convolution, auto, forward", [&] { return conv(dnnl::algorithm::convolution_auto, dst).impl_info_str(); });
    // The same convolution writing channels 64..255 of block 3b's 480-channel output.
    const memory::desc whole({128, 480, 12, 12}, f32, blocked);
    const memory::desc slice = whole.submemory_desc({128, 192, 12, 12}, {0, 128, 0, 0});
    report("3x3 convolution into a channel slice, forward", [&] { return conv(dnnl::algorithm::convolution_direct, slice).impl_info_str(); });
    report("3x3 convolution into a channel slice, backward-data", [&] {
        auto fwd = conv(dnnl::algorithm::convolution_direct, slice);
        return dnnl::convolution_backward_data::primitive_desc(eng, dnnl::algorithm::convolution_direct, src, wei, slice, stride,
                                                               pad, pad, fwd)
            .impl_info_str();
    });
    report("3x3 convolution into a channel slice, backward-weights", [&] {
        auto fwd = conv(dnnl::algorithm::convolution_direct, slice);
        return dnnl::convolution_backward_weights::primitive_desc(eng, dnnl::algorithm::convolution_direct, src, wei, bias, slice,
                                                                  stride, pad, pad, fwd)
            .impl_info_str();
    });
    report("ReLU backward on a channel slice", [&] {
        const auto alg = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
        auto fwd = dnnl::eltwise_forward::primitive_desc(eng, dnnl::prop_kind::forward_training, alg, slice, slice, 0.f, 0.f);
        return dnnl::eltwise_backward::primitive_desc(eng, alg, slice, slice, slice, 0.f, 0.f, fwd).impl_info_str();
    });
}
