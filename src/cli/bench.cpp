// googlenet bench: the training step or inference on random data, timed; --profile per op.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>

#include "cli/cli.h"
#include "googlenet/bench.h"

namespace googlenet::cli {
namespace {

struct BenchOptions {
    BenchConfig config;
    bool json = false, dump_config = false;
};

nlohmann::ordered_json settings(const BenchConfig& c) {
    nlohmann::ordered_json j{{"mode", c.mode},       {"model", c.model},       {"batch_size", c.batch_size},
                             {"size", c.size}};
    add_engine_settings(j, c.engine);
    j["warmup"] = c.warmup;
    if (c.seconds > 0)
        j["time"] = c.seconds;  // --time and --iters exclude each other
    else
        j["iters"] = c.iters;
    j["profile"] = c.profile;
    return j;
}

// bench --profile: every op's time in the net's order, then the totals by kind of op.
void print_profile(const BenchResult& r, std::FILE* f) {
    const bool train = r.config.mode == "train";
    if (r.batch_split)
        std::fprintf(f, "\nper op, ms per timed iteration, per copy of the net (each copy runs its share of the batch, "
                    "all copies at once):\n");
    else if (r.paths_side_by_side)
        std::fprintf(f, "\nper op, ms per timed iteration, on the thread that ran it (the paths of a block run at once on "
                    "different threads, so the ops add up to more than the iteration):\n");
    else
        std::fprintf(f, "\nper op, ms per timed iteration (every op on all %d threads):\n", r.threads);
    auto total = [](const OpProfile& o) { return o.forward_ms + o.backward_data_ms + o.backward_weights_ms; };
    double sum = 0;
    for (const OpProfile& o : r.ops) sum += total(o);
    if (train)
        std::fprintf(f, "%9s %9s %9s %9s %6s  %-44s %-11s %s\n", "forward", "bwd-data", "bwd-wts", "total", "share", "op", "output",
                    "kernels (forward | backward-data | backward-weights)");
    else
        std::fprintf(f, "%9s %6s  %-44s %-11s %s\n", "forward", "share", "op", "output", "kernels (forward | ...)");
    std::map<std::string, std::array<double, 3>> by_kind;
    for (const OpProfile& o : r.ops) {
        const double share = sum > 0 ? 100 * total(o) / sum : 0;
        if (train)
            std::fprintf(f, "%9.2f %9.2f %9.2f %9.2f %5.1f%%  %-44s %-11s %s\n", o.forward_ms, o.backward_data_ms,
                        o.backward_weights_ms, total(o), share, o.op.c_str(), o.output.c_str(), o.kernels.c_str());
        else
            std::fprintf(f, "%9.2f %5.1f%%  %-44s %-11s %s\n", o.forward_ms, share, o.op.c_str(), o.output.c_str(),
                        o.kernels.substr(0, o.kernels.find(" |")).c_str());
        auto& k = by_kind[o.kind];
        k[0] += o.forward_ms, k[1] += o.backward_data_ms, k[2] += o.backward_weights_ms;
    }
    std::fprintf(f, train ? "\nby kind of op (ms: forward / backward-data / backward-weights):\n" : "\nby kind of op (ms):\n");
    std::vector<std::pair<std::string, std::array<double, 3>>> kinds(by_kind.begin(), by_kind.end());
    std::sort(kinds.begin(), kinds.end(), [](const auto& a, const auto& b) {
        return a.second[0] + a.second[1] + a.second[2] > b.second[0] + b.second[1] + b.second[2];
    });
    for (const auto& [kind, t] : kinds) {
        std::fprintf(f, "  %-18s %9.2f  %5.1f%%", kind.c_str(), t[0] + t[1] + t[2], sum > 0 ? 100 * (t[0] + t[1] + t[2]) / sum : 0);
        if (train) std::fprintf(f, "   %.2f / %.2f / %.2f", t[0], t[1], t[2]);
        std::fprintf(f, "\n");
    }
    for (const std::string& w : slow_ops(r.ops)) std::fprintf(stderr, "googlenet: warning: %s\n", w.c_str());
    if (r.paths_side_by_side)
        std::fprintf(f, "ops: %.2f ms of thread time; the iteration: %.2f ms (mean)\n", sum, r.ms_mean);
    else
        std::fprintf(f, "ops: %.2f ms of the iteration's %.2f (mean); outside them %.2f ms (%s)\n", sum, r.ms_mean, r.ms_mean - sum,
                    !train            ? "the input copy"
                    : r.batch_split ? "the loss, waiting for the other copies, the copies' gradient sum, SGD"
                                    : "the loss, SGD");
}

int run_bench(BenchOptions o) {  // a copy: the engine settled for this CPU
    if (o.dump_config) {
        std::printf("%s\n", settings(o.config).dump(2).c_str());
        return kSuccess;
    }
    note_thread_limit(o.config.engine.threads);
    settle_precision(o.config.engine);
    const Output out{o.json};
    const BenchResult r = benchmark(o.config);
    const BenchConfig& c = r.config;  // with the model's input size and the iterations that ran
    std::FILE* f = out.text();
    std::fprintf(f, "bench %s: %s, batch %d, %dx%d, %s, %d threads (%s), %d warm-up + %d timed iterations\n", c.mode.c_str(),
                 c.model.c_str(), c.batch_size, c.size, c.size, to_string(c.engine.precision).c_str(), r.threads,
                 r.batch_split ? "batch split" : r.paths_side_by_side ? "paths side by side" : "every op on all", c.warmup,
                 c.iters);
    if (c.engine.layout != Layout::blocked || c.engine.winograd_max_tile != Options{}.winograd_max_tile)
        std::fprintf(f, "engine: layout %s, Winograd tiles up to %d (0: off)\n", to_string(c.engine.layout).c_str(),
                     c.engine.winograd_max_tile);
    std::fprintf(f, "%.1f img/s, %.1f ms/iter (median), %.1f GFLOP/s, peak RSS %.0f MiB\n", r.images_per_sec, r.ms_per_iter,
                 r.gflops, r.peak_rss_mib);
    std::fprintf(f, "ms per iteration: min %.2f, median %.2f, mean %.2f, p90 %.2f, max %.2f; standard deviation %.2f (%.1f%% of the mean)\n",
                 r.ms_best, r.ms_per_iter, r.ms_mean, r.ms_p90, r.ms_max, r.ms_stddev,
                 r.ms_mean > 0 ? 100 * r.ms_stddev / r.ms_mean : 0.0);
    std::fprintf(f, "planned: activations %.0f MiB, gradients %.0f MiB; parameters and their gradients %.0f MiB\n",
                 r.activations_mib, r.gradients_mib, r.parameters_mib);
    if (c.profile) print_profile(r, f);
    if (!o.json) return kSuccess;
    nlohmann::ordered_json j{{"googlenet", about_json()}, {"mode", c.mode}, {"model", c.model}, {"batch_size", c.batch_size},
                             {"size", c.size}, {"threads", r.threads}, {"batch_split", r.batch_split},
                             {"paths_side_by_side", r.paths_side_by_side}, {"layout", to_string(c.engine.layout)},
                             {"winograd_max_tile", c.engine.winograd_max_tile}, {"precision", to_string(c.engine.precision)}, {"warmup", c.warmup}, {"iters", c.iters},
                             {"time", c.seconds}, {"images_per_sec", r.images_per_sec}, {"ms_per_iter", r.ms_per_iter},
                             {"ms_best", r.ms_best}, {"ms_min", r.ms_best}, {"ms_median", r.ms_per_iter},
                             {"ms_mean", r.ms_mean}, {"ms_p90", r.ms_p90}, {"ms_max", r.ms_max}, {"ms_stddev", r.ms_stddev},
                             {"ms", r.ms}, {"gflops", r.gflops}, {"peak_rss_mib", r.peak_rss_mib},
                             {"activations_mib", r.activations_mib}, {"gradients_mib", r.gradients_mib},
                             {"parameters_mib", r.parameters_mib}, {"macs_per_image", r.macs_per_image}};
    if (c.profile) {
        j["ops"] = nlohmann::ordered_json::array();
        for (const OpProfile& p : r.ops)
            j["ops"].push_back({{"op", p.op}, {"kind", p.kind}, {"output", p.output}, {"kernels", p.kernels},
                                {"forward_ms", p.forward_ms}, {"backward_data_ms", p.backward_data_ms},
                                {"backward_weights_ms", p.backward_weights_ms}, {"gflops", p.gflops}});
        j["slow_ops"] = slow_ops(r.ops);
    }
    out.emit(j);
    return kSuccess;
}

}  // namespace

Command add_bench(CLI::App& app) {
    auto o = std::make_shared<BenchOptions>();
    BenchConfig& c = o->config;
    CLI::App* cmd = app.add_subcommand("bench", "Time the training step or inference on random data");
    cmd->add_option("--mode", c.mode, "train (forward, backward, update) or infer (forward)")
        ->capture_default_str()
        ->check(CLI::IsMember({"train", "infer"}));
    add_model_option(cmd, c.model, "d2l")->capture_default_str();
    cmd->add_option("-b,--batch-size", c.batch_size, "Images per batch")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--size", c.size, "Input height and width (0: the model's)")->capture_default_str()->check(CLI::Range(0, 4096));
    add_engine_options(cmd, c.engine, /*with_int8=*/true);
    cmd->add_option("--warmup", c.warmup, "Untimed iterations first")->capture_default_str()->check(CLI::NonNegativeNumber);
    CLI::Option* iters =
        cmd->add_option("--iters", c.iters, "Timed iterations")->capture_default_str()->check(CLI::Range(1, 1000000));
    cmd->add_option("--time", c.seconds, "Instead of --iters: time iterations until this many seconds have passed (at least one)")
        ->check(CLI::Range(0.001, 1e6))
        ->excludes(iters);
    add_json_flag(cmd, o->json, "One JSON document", "the figures, every iteration's time, the build and the machine");
    cmd->add_flag("--profile", c.profile,
                  "Also time every op (forward, backward-data, backward-weights) and print them with the kernels each pass "
                  "runs, and totals by kind of op");
    add_config_options(cmd, o->dump_config);
    return {cmd, [o] { return run_bench(*o); }};
}

}  // namespace googlenet::cli
