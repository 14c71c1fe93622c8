// What a checkpoint holds beyond the weights: the optimizer's state, where the run stands, and
// its settings. Stored as checkpoint.safetensors: the parameters under their usual names, the
// momentum buffer as "optimizer.momentum_buffer", the rest as JSON in the metadata.
#pragma once
#include <string>
#include <vector>

#include "googlenet/io.h"
#include "googlenet/train.h"
#include "googlenet/trainer.h"

namespace googlenet {

struct RunState {
    int epoch = 1;          // the epoch in progress, from 1
    int batch = 0;          // batches of that epoch already done
    long step = 0;          // steps done in the whole run
    double loss_sum = 0;    // running sums over the epoch in progress
    long hits = 0, seen = 0;
    double epoch_seconds = 0;  // time spent training in the epoch in progress
    double run_seconds = 0;    // wall time of the run before this process
    long metrics_bytes = 0;    // length of metrics.jsonl when the checkpoint was written
    bool sgd_started = false;  // has the optimizer taken a step (its momentum buffer is live)
    std::string model_text;    // the model file's JSON, so a resumed run rebuilds the same network
    std::vector<EpochStats> history;
};

void save_checkpoint(const std::string& path, const ParamStore& params, Sgd& sgd, const TrainConfig& config,
                     const RunState& state);

// Loads the settings and state; then load_checkpoint_tensors fills parameters and optimizer.
void read_checkpoint(const std::string& path, TrainConfig& config, RunState& state, TensorMap& tensors);
void load_checkpoint_tensors(const std::string& path, const TensorMap& tensors, ParamStore& params, Sgd& sgd,
                             bool sgd_started);

// A run's config.json read back (every setting config_json writes must be there).
TrainConfig read_config_json(const std::string& path);

}  // namespace googlenet
