// The machine's peak single-precision FMA rate on a given number of threads: every thread runs
// independent chains of vector FMAs from registers (no memory traffic), the widest the CPU has.
// It is the ceiling no convolution algorithm that does all its multiply-adds can pass, which is
// why bench/compare.py prints it next to the training step's GFLOP/s. Hand-written because it
// measures the hardware itself; no library reports it.
//
// Usage: fma_peak [THREADS] -> one JSON object: {"isa": ..., "threads": N, "gflops": ...}
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr int kChains = 12;  // enough independent FMAs in flight to cover the latency of 2 pipes
constexpr long kIters = 20000000;

// One body per instruction set, each compiled for its own target so the FMAs are inlined.
#define FMA_CHAINS(Vec, lanes, set, fma)                                          \
    float sink = 0;                                                             \
    const auto t0 = std::chrono::steady_clock::now();                           \
    _Pragma("omp parallel reduction(+ : sink)") {                               \
        Vec acc[kChains];                                                       \
        const Vec a = set(1.0000001f), b = set(1e-7f);                          \
        for (int i = 0; i < kChains; ++i) acc[i] = set(float(i));               \
        for (long it = 0; it < kIters; ++it)                                    \
            _Pragma("GCC unroll 16") for (int i = 0; i < kChains; ++i) acc[i] = fma(acc[i], a, b);       \
        float out[lanes];                                                       \
        for (int i = 0; i < kChains; ++i) {                                     \
            std::memcpy(out, &acc[i], sizeof out);                              \
            sink += out[0];                                                     \
        }                                                                       \
    }                                                                           \
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); \
    if (sink == 42.f) std::puts(""); /* keeps the chains alive */               \
    return 2.0 * lanes * kChains * double(kIters) * omp_get_max_threads() / s / 1e9;

__attribute__((target("avx512f"))) double peak512() { FMA_CHAINS(__m512, 16, _mm512_set1_ps, _mm512_fmadd_ps) }
__attribute__((target("avx2,fma"))) double peak256() { FMA_CHAINS(__m256, 8, _mm256_set1_ps, _mm256_fmadd_ps) }

}  // namespace

int main(int argc, char** argv) {
    if (argc > 2 || (argc == 2 && std::atoi(argv[1]) < 1)) {
        std::fprintf(stderr, "usage: fma_peak [THREADS]\n");
        return 2;
    }
    if (argc == 2) omp_set_num_threads(std::atoi(argv[1]));
    const bool avx512 = __builtin_cpu_supports("avx512f");
    if (!avx512 && !__builtin_cpu_supports("fma")) {
        std::fprintf(stderr, "fma_peak: this CPU has neither AVX-512 nor FMA\n");
        return 1;
    }
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) {  // the best of three: the others were disturbed
        const double g = avx512 ? peak512() : peak256();
        if (g > best) best = g;
    }
    std::printf("{\"isa\": \"%s\", \"threads\": %d, \"gflops\": %.1f}\n", avx512 ? "avx512f" : "avx2+fma",
                omp_get_max_threads(), best);
}
