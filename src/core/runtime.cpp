#include "core/runtime.h"

namespace googlenet {

int channel_block() {
    static const int block = dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core ? 16 : 8;
    return block;
}

dnnl::memory::desc desc_of(const Shape& s, Layout layout) {
    using tag = dnnl::memory::format_tag;
    const tag t = layout == Layout::nchw  ? tag::nchw
                  : layout == Layout::nhwc ? tag::nhwc
                  : channel_block() == 16  ? tag::nChw16c
                                           : tag::nChw8c;
    return dnnl::memory::desc({s.n, s.c, s.h, s.w}, dnnl::memory::data_type::f32, t);
}

dnnl::memory::desc desc_of(const Value& v) { return desc_of(v.shape, v.layout); }

size_t storage_of(const Shape& s, Layout layout) { return desc_of(s, layout).get_size() / sizeof(float); }

}  // namespace googlenet
