// D2L's 3x3 and 5x5 convolutions, each training pass, through our Winograd (the tile size the engine
// picks for the map) and through oneDNN's direct kernels, one after the other on the same data: the
// per-layer table in docs/performance.md. Backward-data through Winograd includes transforming
// the weights (done every step in training); forward's weights are transformed once here, as in
// evaluation (in training that is one more transform per step, counted under backward-data's).
//
// Usage: winograd_vs_direct [BATCH]   (threads: OMP_NUM_THREADS; GOOGLENET_WINOGRAD=2 for F(2x2))
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "core/runtime.h"
#include "ops/winograd.h"

using namespace googlenet;
using dnnl::memory;

namespace {

double median_ms(int n, const std::function<void()>& run) {
    run(), run();
    std::vector<double> ms;
    for (int i = 0; i < (n == 1 ? 50 : 5); ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        run();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 128;
    if (n < 1) {
        std::fprintf(stderr, "usage: winograd_vs_direct [BATCH]\n");
        return 2;
    }
    struct Layer { int c, k, size, r = 3; };
    ParamStore none;
    RunState state;
    Runtime rt(none, state);
    double total_w[3] = {}, total_d[3] = {};
    std::printf("batch %d: ms per pass (median), Winograd / direct\n", n);
    std::printf("%-20s %-6s %-22s %-22s %-22s\n", "layer", "F", "forward", "backward-data", "backward-weights");
    for (const Layer l : {Layer{64, 192, 24}, Layer{96, 128, 12}, Layer{128, 192, 12}, Layer{96, 208, 6}, Layer{112, 224, 6},
                          Layer{128, 256, 6}, Layer{144, 288, 6}, Layer{160, 320, 6}, Layer{160, 320, 3}, Layer{192, 384, 3},
                          Layer{16, 32, 12, 5}, Layer{32, 96, 12, 5}, Layer{16, 48, 6, 5}, Layer{24, 64, 6, 5}, Layer{32, 64, 6, 5},
                          Layer{32, 128, 6, 5}, Layer{32, 128, 3, 5}, Layer{48, 128, 3, 5}}) {
        const int r = l.r;
        const memory::dims pad{r / 2, r / 2};
        const Shape in{n, l.c, l.size, l.size}, out{n, l.k, l.size, l.size};
        std::vector<float> x(storage_of(in, Layout::blocked), 0.5f), y(storage_of(out, Layout::blocked), 0.25f),
            dx(storage_of(in, Layout::blocked));
        std::vector<float> w(size_t(l.k) * l.c * r * r, 0.01f), b(size_t(l.k), 0.f), dw(w.size()), db(b.size());
        WinogradConv winograd, winograd_bwd, winograd_bww;
        winograd.prepare(rt, in, out, r, true);
        const int bww_tile = WinogradConv::tile_for(out, r, WinogradConv::Pass::backward_weights);
        if (bww_tile) winograd_bww.prepare(rt, in, out, r, false, bww_tile);
        winograd.set_weights(rt, w.data());
        const int bwd_tile = WinogradConv::tile_for(in, r, WinogradConv::Pass::backward_data);
        if (bwd_tile) winograd_bwd.prepare(rt, out, in, r, false, bwd_tile);
        const memory::desc src = desc_of(in, Layout::blocked), dst = desc_of(out, Layout::blocked);
        const memory::desc wei({l.k, l.c, r, r}, memory::data_type::f32, memory::format_tag::any);
        const memory::desc bias({l.k}, memory::data_type::f32, memory::format_tag::a);
        dnnl::post_ops relu;
        relu.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
        dnnl::primitive_attr attr;
        attr.set_post_ops(relu);
        const auto alg = dnnl::algorithm::convolution_direct;
        const memory::dims one{1, 1};
        auto pd = dnnl::convolution_forward::primitive_desc(rt.engine, dnnl::prop_kind::forward_training, alg, src, wei, bias, dst,
                                                            one, pad, pad, attr);
        auto bd_pd = dnnl::convolution_backward_data::primitive_desc(rt.engine, alg, src, wei, dst, one, pad, pad, pd);
        auto bw_pd = dnnl::convolution_backward_weights::primitive_desc(rt.engine, alg, src, wei, bias, dst, one, pad, pad, pd);
        dnnl::convolution_forward direct(pd);
        dnnl::convolution_backward_data direct_bd(bd_pd);
        dnnl::convolution_backward_weights direct_bw(bw_pd);
        memory fwd_w(pd.weights_desc(), rt.engine), bd_w(bd_pd.weights_desc(), rt.engine), bw_dw(bw_pd.diff_weights_desc(), rt.engine);
        double tw[3], td[3];
        tw[0] = median_ms(n, [&] { winograd.forward(rt, x.data(), b.data(), y.data()); });
        td[0] = median_ms(n, [&] {
            direct.execute(rt.stream, {{DNNL_ARG_SRC, rt.mem(src, x.data())}, {DNNL_ARG_WEIGHTS, fwd_w},
                                       {DNNL_ARG_BIAS, rt.mem(bias, b.data())}, {DNNL_ARG_DST, rt.mem(dst, y.data())}});
        });
        tw[1] = bwd_tile ? median_ms(n, [&] {
            winograd_bwd.set_weights(rt, w.data(), true);
            winograd_bwd.forward(rt, y.data(), nullptr, dx.data());
        }) : 0.0;
        td[1] = median_ms(n, [&] {
            direct_bd.execute(rt.stream, {{DNNL_ARG_DIFF_DST, rt.mem(dst, y.data())}, {DNNL_ARG_WEIGHTS, bd_w},
                                          {DNNL_ARG_DIFF_SRC, rt.mem(src, dx.data())}});
        });
        const bool own_bw = bww_tile && winograd_bww.has_backward_weights();
        tw[2] = own_bw ? median_ms(n, [&] { winograd_bww.backward_weights(rt, x.data(), y.data(), dw.data(), db.data()); }) : 0.0;
        td[2] = median_ms(n, [&] {
            direct_bw.execute(rt.stream, {{DNNL_ARG_SRC, rt.mem(src, x.data())}, {DNNL_ARG_DIFF_DST, rt.mem(dst, y.data())},
                                          {DNNL_ARG_DIFF_WEIGHTS, bw_dw}, {DNNL_ARG_DIFF_BIAS, rt.mem(bias, db.data())}});
        });
        if (!own_bw) tw[2] = td[2];
        if (!bwd_tile) tw[1] = td[1];
        const bool used = WinogradConv::applies(r, 1, r / 2, Layout::blocked, Layout::blocked, l.c, out, WinogradConv::kLargestTile);
        char name[32];
        std::snprintf(name, sizeof name, "%dx%d %d -> %d on %d", r, r, l.c, l.k, l.size);
        std::printf("%-20s F%d/%d/%d", name, used ? winograd.tile() : 0, used && bwd_tile ? winograd_bwd.tile() : 0,
                    used && own_bw ? winograd_bww.tile() : 0);
        for (int p = 0; p < 3; ++p) {
            char cell[40];
            const bool direct = (p == 1 && !bwd_tile) || (p == 2 && !own_bw);
            std::snprintf(cell, sizeof cell, "%.2f/%.2f (%.2fx)%s", tw[p], td[p], td[p] / tw[p], direct ? "d" : "");
            std::printf(" %-22s", cell);
            // What the engine runs: direct where Winograd does not apply.
            total_w[p] += used ? tw[p] : td[p], total_d[p] += td[p];
        }
        std::printf("%s\n", used ? "" : "  direct used");
    }
    std::printf("%-25s", "all, as the engine runs them");
    for (int p = 0; p < 3; ++p) std::printf(" %.1f/%.1f ms       ", total_w[p], total_d[p]);
    std::printf("\n(F: tile size of forward / backward-data / backward-weights, 0: direct;\n d: that pass stays direct)\n");
}
