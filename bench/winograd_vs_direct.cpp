// D2L's 3x3 convolutions, forward, through our Winograd F(2x2, 3x3) and through oneDNN's direct
// kernel, one after the other on the same data: the per-layer table in docs/performance.md.
//
// Usage: winograd_vs_direct [BATCH]   (threads: OMP_NUM_THREADS)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/runtime.h"
#include "ops/winograd.h"

using namespace googlenet;
using dnnl::memory;

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 128;
    if (n < 1) {
        std::fprintf(stderr, "usage: winograd_vs_direct [BATCH]\n");
        return 2;
    }
    struct Layer { int c, k, size; };
    ParamStore none;
    Runtime rt(none);
    double total_w = 0, total_d = 0;
    std::printf("batch %d: ms per forward (median), Winograd / direct\n", n);
    for (const Layer l : {Layer{64, 192, 24}, Layer{96, 128, 12}, Layer{128, 192, 12}, Layer{96, 208, 6}, Layer{112, 224, 6},
                          Layer{128, 256, 6}, Layer{144, 288, 6}, Layer{160, 320, 6}, Layer{160, 320, 3}, Layer{192, 384, 3}}) {
        const Shape in{n, l.c, l.size, l.size}, out{n, l.k, l.size, l.size};
        std::vector<float> x(storage_of(in, Layout::blocked), 0.5f), y(storage_of(out, Layout::blocked));
        std::vector<float> w(size_t(l.k) * l.c * 9, 0.01f), b(size_t(l.k), 0.f);
        WinogradConv winograd;
        winograd.prepare(rt, in, out, true);
        winograd.set_weights(rt, w.data());
        const memory::desc src = desc_of(in, Layout::blocked), dst = desc_of(out, Layout::blocked);
        const memory::desc wei({l.k, l.c, 3, 3}, memory::data_type::f32, memory::format_tag::any);
        const memory::desc bias({l.k}, memory::data_type::f32, memory::format_tag::a);
        dnnl::post_ops relu;
        relu.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
        dnnl::primitive_attr attr;
        attr.set_post_ops(relu);
        auto pd = dnnl::convolution_forward::primitive_desc(rt.engine, dnnl::prop_kind::forward_inference,
                                                            dnnl::algorithm::convolution_direct, src, wei, bias, dst, {1, 1},
                                                            {1, 1}, {1, 1}, attr);
        dnnl::convolution_forward direct(pd);
        memory direct_weights(pd.weights_desc(), rt.engine);
        auto median_ms = [&](auto run) {
            run(), run();
            std::vector<double> ms;
            for (int i = 0; i < (n == 1 ? 50 : 5); ++i) {
                const auto t0 = std::chrono::steady_clock::now();
                run();
                ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
            }
            std::sort(ms.begin(), ms.end());
            return ms[ms.size() / 2];
        };
        const double tw = median_ms([&] { winograd.forward(rt, x.data(), b.data(), y.data()); });
        const double td = median_ms([&] {
            direct.execute(rt.stream, {{DNNL_ARG_SRC, rt.mem(src, x.data())}, {DNNL_ARG_WEIGHTS, direct_weights},
                                       {DNNL_ARG_BIAS, rt.mem(bias, b.data())}, {DNNL_ARG_DST, rt.mem(dst, y.data())}});
        });
        const bool used = WinogradConv::applies(3, 1, 1, Layout::blocked, Layout::blocked, out);
        std::printf("%3d -> %3d on %2dx%-2d  %8.3f / %8.3f  (%.2fx)%s\n", l.c, l.k, l.size, l.size, tw, td, td / tw,
                    used ? "" : "  direct used");
        total_w += tw, total_d += td;
    }
    std::printf("all ten: %.3f / %.3f ms\n", total_w, total_d);
}
