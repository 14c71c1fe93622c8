// Options' precision as this CPU resolves it. Apart from options.cpp, which the file-reading
// library (googlenet_io) holds without oneDNN.
#include <dnnl.hpp>

#include "googlenet/options.h"

namespace googlenet {

bool native_bf16() {
    using dnnl::cpu_isa;
    switch (dnnl::get_effective_cpu_isa()) {
        case cpu_isa::avx512_core_bf16:
        case cpu_isa::avx512_core_fp16:
        case cpu_isa::avx512_core_amx:
        case cpu_isa::avx512_core_amx_fp16: return true;
        default: return false;
    }
}

Precision resolve_precision(Precision p) {
    if (p != Precision::automatic) return p;
    return native_bf16() ? Precision::bf16 : Precision::fp32;
}

}  // namespace googlenet
