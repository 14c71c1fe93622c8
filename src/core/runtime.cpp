#include "core/runtime.h"

namespace googlenet {

int channel_block() {
    static const int block = dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core ? 16 : 8;
    return block;
}

dnnl::memory::data_type onednn_type(DataType type) {
    using dt = dnnl::memory::data_type;
    switch (type) {
        case DataType::bf16: return dt::bf16;
        case DataType::u8: return dt::u8;
        case DataType::s8: return dt::s8;
        case DataType::f32: break;
    }
    return dt::f32;
}

dnnl::memory::desc desc_of(const Shape& s, Layout layout, DataType type) {
    using tag = dnnl::memory::format_tag;
    const tag t = layout == Layout::nchw  ? tag::nchw
                  : layout == Layout::nhwc ? tag::nhwc
                  : channel_block() == 16  ? tag::nChw16c
                                           : tag::nChw8c;
    return dnnl::memory::desc({s.n, s.c, s.h, s.w}, onednn_type(type), t);
}

dnnl::memory::desc desc_of(const Value& v) { return desc_of(v.shape, v.layout, v.type); }

size_t storage_of(const Shape& s, Layout layout, DataType type) {
    return (desc_of(s, layout, type).get_size() + sizeof(float) - 1) / sizeof(float);
}

}  // namespace googlenet
