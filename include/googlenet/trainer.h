// Training and evaluation of D2L's GoogLeNet on Fashion-MNIST, as D2L's train_ch6 does it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "googlenet/data.h"
#include "googlenet/net.h"

namespace googlenet {

struct TrainConfig {
    int epochs = 10;
    int batch_size = 128;
    float lr = 0.1f;
    float momentum = 0.f;
    float weight_decay = 0.f;
    bool nesterov = false;
    int resize = 96;
    int threads = 0;  // 0: every core
    uint64_t seed = 0;
    std::string data_dir = kFashionMnistDir;
    int train_limit = 0;  // 0: the whole split
    int test_limit = 0;
    std::string init_weights;  // start from this weights file instead of a fresh initialisation
    bool shuffle = true;
    std::string out_dir = "runs/d2l";
};

struct EpochStats {
    int epoch = 0;
    double loss = 0, train_acc = 0, test_acc = 0;
    double images_per_sec = 0;  // training images per second over the epoch, data loading included
    double seconds = 0;         // wall time since training started
};

struct EvalResult {
    double loss = 0, accuracy = 0;
    int count = 0;
};

EvalResult evaluate(Net& net, const ImageSet& set, int batch_size, int resize);

// Trains, writing <out_dir>/model.safetensors after every epoch. Throws Error for bad settings or
// data, and when the loss stops being finite (after saving the last weights whose loss was finite).
std::vector<EpochStats> train(const TrainConfig& config, const std::function<void(const EpochStats&)>& on_epoch);

int resolve_threads(int threads);

}  // namespace googlenet
