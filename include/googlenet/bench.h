// Timing of the training step and of inference on random data, after warm-up.
#pragma once
#include <cstdint>
#include <string>

namespace googlenet {

struct BenchConfig {
    std::string mode = "train";  // "train": forward, loss, backward, SGD update; "infer": forward
    std::string model = "d2l";   // a built-in model's name or a model file's path
    int batch_size = 128;
    int size = 0;  // 0: the model's input size
    int threads = 0;  // 0: every core
    std::string parallel = "batch";  // as TrainConfig::parallel
    int warmup = 2;
    int iters = 5;
};

struct BenchResult {
    BenchConfig config;
    int threads = 0;
    double ms_per_iter = 0;     // median over the timed iterations
    double ms_best = 0;
    double images_per_sec = 0;  // from the median
    double gflops = 0;          // useful work: 2 flops per multiply-add, 3 passes when training
    double peak_rss_mib = 0;    // of the whole process (getrusage)
    // The Net's planned arenas (activations, gradients) and its parameters with their gradients:
    // where most of the peak goes.
    double activations_mib = 0, gradients_mib = 0, parameters_mib = 0;
    int64_t macs_per_image = 0;
    bool batch_split = false;  // whether the batch ran split over the threads (--parallel batch, if the net allows)
    bool paths_side_by_side = false;  // whether its Inception paths ran side by side (--parallel batch, small batches in evaluation)
};

BenchResult benchmark(const BenchConfig& config);

}  // namespace googlenet
