// Options' precision as this CPU resolves it. Apart from options.cpp, which the file-reading
// library (googlenet_io) holds without oneDNN.
#include <dnnl.hpp>

#include "googlenet/about.h"
#include "googlenet/error.h"
#include "googlenet/options.h"
#include "googlenet/quantize.h"

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

int bf16_min_channels(bool training) {
    static const bool amx = dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core_amx;
    if (!amx) return kBf16MinChannels;
    return training ? 3 : 1;
}

int weight_code_limit() {
    using dnnl::cpu_isa;
    const cpu_isa isa = dnnl::get_effective_cpu_isa();
    const bool vnni = isa == cpu_isa::avx2_vnni || isa == cpu_isa::avx2_vnni_2 || isa >= cpu_isa::avx512_core_vnni;
    return vnni ? 127 : 63;
}

Precision resolve_precision(Precision p) {
    // Below AVX-512 oneDNN 3.2 has no bf16 convolution at all, not even an emulated one.
    if (p == Precision::bf16 && dnnl::get_effective_cpu_isa() < dnnl::cpu_isa::avx512_core)
        throw Error("precision bf16 needs a CPU with AVX-512 at least (oneDNN 3.2 has no bf16 convolution below "
                    "it); this one has " + about().onednn_isa + ": use fp32, or auto");
    if (p != Precision::automatic) return p;
    return native_bf16() ? Precision::bf16 : Precision::fp32;
}

}  // namespace googlenet
