#include "core/runtime.h"

#include <immintrin.h>

#include <thread>

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

void LaneShare::meet() {
    const unsigned gen = generation.load(std::memory_order_acquire);
    if (arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == lanes) {
        arrived.store(0, std::memory_order_relaxed);
        generation.fetch_add(1, std::memory_order_release);
        return;
    }
    // Spin first (the copies run the same ops, so they arrive close together), then give the core
    // away, as OpenMP's passive wait does, in case threads outnumber cores.
    for (long spins = 0; generation.load(std::memory_order_acquire) == gen; ++spins) {
        if (failed.load(std::memory_order_acquire)) throw Error("stopped: another copy of the network failed");
        if (spins < 100000)
            _mm_pause();
        else
            std::this_thread::yield();
    }
}

}  // namespace googlenet
