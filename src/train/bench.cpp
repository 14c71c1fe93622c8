#include "googlenet/bench.h"
#include "googlenet/summary.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>
#include <fmt/format.h>

#include "googlenet/models.h"
#include "googlenet/net.h"
#include "googlenet/quantize.h"
#include "googlenet/train.h"
#include "googlenet/trainer.h"

namespace googlenet {

static std::string kind_of(const Op& op) {
    const OpAttributes a = op.attributes();
    switch (a.kind) {
    case OpAttributes::conv: return "conv " + std::to_string(a.kernel_h) + "x" + std::to_string(a.kernel_w);
    case OpAttributes::relu: return "relu";
    case OpAttributes::max_pool: return "max pool";
    case OpAttributes::avg_pool: return "avg pool";
    case OpAttributes::adaptive_avg_pool: return "adaptive avg pool";
    case OpAttributes::batch_norm: return "batch norm";
    case OpAttributes::lrn: return "lrn";
    case OpAttributes::dropout: return "dropout";
    case OpAttributes::concat: return "concat";
    case OpAttributes::linear: return "linear";
    case OpAttributes::normalize: return "normalize";
    }
    return "other";
}

BenchResult benchmark(const BenchConfig& config) {
    const ModelSpec spec = load_model(config.model);
    BenchConfig c = config;
    if (c.size == 0) c.size = spec.input_size;
    if (c.mode != "train" && c.mode != "infer") throw Error("--mode must be train or infer, not '" + c.mode + "'");
    if (c.batch_size < 1 || c.size < 1 || c.iters < 1 || c.warmup < 0 || !(c.seconds >= 0))
        throw Error("--batch-size, --size and --iters must be at least 1, --warmup and --time at least 0");
    if (c.engine.precision == Precision::int8 && c.mode == "train")
        throw Error("--precision int8 is for inference only: bench it with --mode infer");
    validate(c.engine);
    BenchResult r;
    r.config = c;
    r.threads = resolve_threads(c.engine.threads);
    Net net = build_net(spec, c.size);
    net.set_options(resolved(c.engine));
    net.set_training(c.mode == "train");
    init_params(net.params(), 0);
    std::mt19937 rng(0);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::vector<float> images(size_t(c.batch_size) * size_t(spec.in_channels) * c.size * c.size);
    for (auto& v : images) v = u(rng);
    // In small batches, so that calibration's fp32 memory stays under the int8 run's own peak.
    if (c.engine.precision == Precision::int8) net.set_quantization(calibrate(net, images.data(), c.batch_size, 8));
    net.set_batch(c.batch_size);
    Sgd sgd(net.params(), SgdOptions{});
    std::vector<int> labels(size_t(c.batch_size));
    for (auto& y : labels) y = int(rng() % uint32_t(spec.classes));

    const bool train = c.mode == "train";
    auto step = [&] {
        net.forward(images.data());
        if (!train) return;
        net.loss(labels.data());
        net.backward();
        sgd.step();
    };
    for (int i = 0; i < c.warmup; ++i) step();
    net.set_profiling(c.profile);
    std::vector<double> ms;
    const auto start = std::chrono::steady_clock::now();
    auto more = [&] {
        if (c.seconds <= 0) return int(ms.size()) < c.iters;
        return ms.empty() || std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < c.seconds;
    };
    while (more()) {
        const auto t0 = std::chrono::steady_clock::now();
        step();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    c.iters = int(ms.size());
    r.config.iters = c.iters;
    r.ms = ms;
    r.ms_mean = std::accumulate(ms.begin(), ms.end(), 0.0) / double(ms.size());
    double squares = 0;
    for (double t : ms) squares += (t - r.ms_mean) * (t - r.ms_mean);
    r.ms_stddev = ms.size() > 1 ? std::sqrt(squares / double(ms.size() - 1)) : 0;
    if (c.profile) {
        for (const OpTime& t : net.op_times()) {
            const Op& op = *t.op;
            if (op.auxiliary && !train) continue;
            const Shape& out = op.output->shape;
            OpProfile p{label(net, op), kind_of(op), std::to_string(out.c) + "x" + std::to_string(out.h) + "x" + std::to_string(out.w),
                        op.kernels(), t.forward_ms / c.iters,
                        t.backward_data_ms / c.iters, t.backward_weights_ms / c.iters};
            // Each pass that ran does the op's multiply-adds once, over the images this copy ran.
            const int passes = 1 + (p.backward_data_ms > 0) + (p.backward_weights_ms > 0);
            const double ms = p.forward_ms + p.backward_data_ms + p.backward_weights_ms;
            if (op.macs_per_image() > 0 && ms > 0) p.gflops = 2.0 * double(op.macs_per_image()) * out.n * passes / (ms * 1e6);
            r.ops.push_back(p);
        }
    }
    std::sort(ms.begin(), ms.end());
    r.ms_per_iter = ms.size() % 2 ? ms[ms.size() / 2] : (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]) / 2;
    r.ms_best = ms.front();
    r.ms_max = ms.back();
    // The nearest-rank percentile: an iteration's own time, never an interpolation between two.
    r.ms_p90 = ms[size_t(std::ceil(0.9 * double(ms.size()))) - 1];
    r.images_per_sec = c.batch_size / (r.ms_per_iter / 1000);
    r.macs_per_image = macs_per_image(net);
    r.batch_split = net.execution().batch_split;
    r.paths_side_by_side = net.execution().paths_side_by_side;
    r.gflops = double(r.macs_per_image) * 2 * (train ? 3 : 1) * r.images_per_sec / 1e9;
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    r.peak_rss_mib = double(usage.ru_maxrss) / 1024;
    const double mib = sizeof(float) / 1048576.0;
    r.activations_mib = double(net.execution().activation_floats) * mib;
    r.gradients_mib = double(net.execution().gradient_floats) * mib;
    r.parameters_mib = double(1 + net.execution().gradient_copies) * double(net.params().total()) * mib;
    return r;
}

std::vector<std::string> slow_ops(const std::vector<OpProfile>& ops) {
    std::vector<double> rates;
    double total_ms = 0;
    for (const OpProfile& o : ops) {
        total_ms += o.forward_ms + o.backward_data_ms + o.backward_weights_ms;
        if (o.gflops > 0) rates.push_back(o.gflops);
    }
    std::vector<std::string> out;
    if (rates.size() < 3) return out;
    std::nth_element(rates.begin(), rates.begin() + long(rates.size() / 2), rates.end());
    const double median = rates[rates.size() / 2];
    // A twentieth of the median: 1x1 convolutions on 1x1 maps and the classifier run at a few
    // times below the 3x3 layers, a reference kernel at a hundredth. Ops under 1% of the time do
    // not matter however slow.
    for (const OpProfile& o : ops) {
        const double ms = o.forward_ms + o.backward_data_ms + o.backward_weights_ms;
        if (o.gflops > 0 && o.gflops < median / 20 && ms > 0.01 * total_ms)
            out.push_back(fmt::format("{} runs at {:.2f} GFLOP/s, under a twentieth of the median op's {:.1f}, and takes {:.0f}% of "
                                      "the ops' time (kernels: {})",
                                      o.op, o.gflops, median, 100 * ms / total_ms, o.kernels));
    }
    return out;
}

}  // namespace googlenet
