#include "core/runtime.h"

namespace googlenet {

int channel_block() {
    static const int block = dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core ? 16 : 8;
    return block;
}

dnnl::memory::desc desc_of(const Shape& s, Layout layout, DataType type) {
    using tag = dnnl::memory::format_tag;
    const tag t = layout == Layout::nchw  ? tag::nchw
                  : layout == Layout::nhwc ? tag::nhwc
                  : channel_block() == 16  ? tag::nChw16c
                                           : tag::nChw8c;
    const auto dt = type == DataType::bf16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
    return dnnl::memory::desc({s.n, s.c, s.h, s.w}, dt, t);
}

dnnl::memory::desc desc_of(const Value& v) { return desc_of(v.shape, v.layout, v.type); }

size_t storage_of(const Shape& s, Layout layout, DataType type) {
    return (desc_of(s, layout, type).get_size() + sizeof(float) - 1) / sizeof(float);
}

}  // namespace googlenet
