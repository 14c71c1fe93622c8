#include "googlenet/about.h"

#include <fstream>
#include <oneapi/dnnl/dnnl.hpp>

#include <fmt/format.h>

#include "googlenet/distributed.h"

namespace googlenet {

extern const char* const kVersion;  // generated: version.cpp
extern const char* const kCommit;

namespace {

std::string isa_name(dnnl::cpu_isa isa) {
    using dnnl::cpu_isa;
    switch (isa) {
    case cpu_isa::sse41: return "sse41";
    case cpu_isa::avx: return "avx";
    case cpu_isa::avx2: return "avx2";
    case cpu_isa::avx2_vnni: return "avx2_vnni";
    case cpu_isa::avx2_vnni_2: return "avx2_vnni_2";
    case cpu_isa::avx512_core: return "avx512_core";
    case cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case cpu_isa::avx512_core_fp16: return "avx512_core_fp16";
    case cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case cpu_isa::avx512_core_amx_fp16: return "avx512_core_amx_fp16";
    default: return "unknown";
    }
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("model name", 0) == 0) {
            const size_t colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    return "unknown";
}

}  // namespace

About about() {
    About a;
    a.version = kVersion;
    a.commit = kCommit;
    const dnnl_version_t* v = dnnl_version();
    a.onednn_version = fmt::format("{}.{}.{}", v->major, v->minor, v->patch);
    a.onednn_isa = isa_name(dnnl::get_effective_cpu_isa());
    a.cpu = cpu_model();
    a.mpi = Communicator::library_version();
    return a;
}

std::string about_text(const About& a) {
    return fmt::format("googlenet {} (commit {})\noneDNN {}, kernels up to {}\nCPU: {}\nMPI: {}\n", a.version, a.commit,
                       a.onednn_version, a.onednn_isa, a.cpu, a.mpi.empty() ? "not built in" : a.mpi + " (built in)");
}

}  // namespace googlenet
