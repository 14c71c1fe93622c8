// Timing of the training step and of inference on random data, after warm-up.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "googlenet/options.h"

namespace googlenet {

struct BenchConfig {
    std::string mode = "train";  // "train": forward, loss, backward, SGD update; "infer": forward
    std::string model = "d2l";   // a built-in model's name or a model file's path
    int batch_size = 128;
    int size = 0;  // 0: the model's input size
    Options engine = {0, Parallel::batch};  // as TrainConfig::engine
    int warmup = 2;
    int iters = 5;
    double seconds = 0;  // > 0: timed iterations until this much time has passed (at least one), not `iters`
    bool profile = false;  // also time every op (BenchResult::ops)
};

// One op's share of an iteration (Net::op_times), in ms per timed iteration: per copy of the net
// when the batch runs split, thread time when the paths run side by side.
struct OpProfile {
    std::string op;       // Net::label
    std::string kind;     // "conv 3x3", "max pool", "concat", ...: what the by-kind totals group by
    std::string output;   // its output's shape for one image, "CxHxW"
    std::string kernels;  // Op::kernels
    double forward_ms = 0, backward_data_ms = 0, backward_weights_ms = 0;
    double gflops = 0;  // ops with multiply-adds (convolutions, linear): over the passes that ran
};

// Ops whose GFLOP/s is far below the rest (a kernel path off its speed, say): each one's
// description, with BenchResult::ops filled (bench --profile).
std::vector<std::string> slow_ops(const std::vector<OpProfile>& ops);

struct BenchResult {
    BenchConfig config;  // with the model's input size, and under `seconds` the iterations that ran
    int threads = 0;
    double ms_per_iter = 0;     // median over the timed iterations
    double ms_best = 0;         // the fastest iteration
    double ms_p90 = 0, ms_max = 0;  // the 90th percentile (nearest rank) and the slowest
    double ms_stddev = 0;       // the iterations' standard deviation around ms_mean
    double images_per_sec = 0;  // from the median
    double gflops = 0;          // useful work: 2 flops per multiply-add, 3 passes when training
    double peak_rss_mib = 0;    // of the whole process (getrusage)
    // The Net's planned arenas (activations, gradients) and its parameters with their gradients:
    // where most of the peak goes.
    double activations_mib = 0, gradients_mib = 0, parameters_mib = 0;
    int64_t macs_per_image = 0;
    bool batch_split = false;  // whether the batch ran split over the threads (--parallel batch, if the net allows)
    bool paths_side_by_side = false;  // whether its Inception paths ran side by side (--parallel batch, small batches in evaluation)
    // With config.profile: every op that ran, in the net's order, and the timed iterations' mean
    // (the ops' times are part of it; what is left is the loss, gradient sums and SGD).
    std::vector<OpProfile> ops;
    double ms_mean = 0;
    std::vector<double> ms;  // every timed iteration, in the order they ran
};

BenchResult benchmark(const BenchConfig& config);

}  // namespace googlenet
