// Training and evaluation of D2L's GoogLeNet on Fashion-MNIST, as D2L's train_ch6 does it, with
// checkpoints that let an interrupted run finish with the same weights as an uninterrupted one.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "googlenet/data.h"
#include "googlenet/models.h"
#include "googlenet/net.h"
#include "googlenet/schedule.h"

namespace googlenet {

struct TrainConfig {
    int epochs = 10;
    int batch_size = 128;
    float lr = 0.1f;
    float momentum = 0.f;
    float weight_decay = 0.f;
    bool nesterov = false;
    std::string lr_schedule = "constant";  // constant | step | cosine
    double lr_step_epochs = 8, lr_gamma = 0.96, warmup_epochs = 0;
    std::string model = "d2l";  // a built-in model's name or a model file's path
    int resize = 0;  // 0: the model's input size
    // Threads, parallel mode, layout, Winograd: the run's engine options. The command line's
    // default is the batch split.
    Options engine = {0, Parallel::batch};
    uint64_t seed = 0;
    std::string data_dir = kFashionMnistDir;
    // Image folders (one sub-folder per class) instead of Fashion-MNIST; see image_folder.h.
    std::string train_folder, val_folder;
    int data_threads = 2;         // decoding threads for image folders
    bool skip_bad_images = true;  // an unreadable image is reported and left out (else: an error)
    int train_limit = 0;  // 0: the whole split
    int test_limit = 0;
    std::string init_weights;  // start from this weights file instead of a fresh initialisation
    bool shuffle = true;
    std::string out_dir = "runs/d2l";
    int log_every = 50;         // steps between step records in metrics.jsonl (and plain progress lines)
    int checkpoint_every = 0;   // steps between mid-epoch checkpoints; 0: only at the end of each epoch
};

struct StepStats {
    int epoch = 0, batch = 0, batches = 0;  // batch counts from 1 within the epoch
    long step = 0;                          // from 1 over the whole run
    double loss = 0;                        // of this batch
    double epoch_loss = 0, epoch_acc = 0;   // running means over the epoch so far
    double lr = 0, images_per_sec = 0, seconds = 0;
    double epoch_eta = 0;  // seconds until this epoch's training part ends, at the pace so far
};

struct EpochStats {
    int epoch = 0;
    long step = 0;
    double loss = 0, train_acc = 0, test_loss = 0, test_acc = 0, lr = 0;
    double images_per_sec = 0;  // training images per second over the epoch, data loading included
    double seconds = 0;         // wall time of the run so far (across resumes)
    double comm_wait_seconds = 0;  // data-parallel runs: time this epoch's steps waited for allreduce
};

// How a data-parallel run is spread (mpirun -np N): told to the observer once, at the start.
struct DistributedInfo {
    int ranks = 1;
    int buckets = 0;                 // gradient buckets reduced while backward runs
    double gradient_mib = 0;         // summed over the ranks every step
    double allreduce_seconds = 0;    // one blocking allreduce of all gradients, measured at the start
};

struct EvalResult {
    double loss = 0, accuracy = 0;
    int count = 0;
    std::vector<long> confusion;  // classes x classes: row = true class, column = predicted
};

class TrainObserver {
public:
    virtual ~TrainObserver() = default;
    virtual void on_start(const TrainConfig&, int /*batches_per_epoch*/, int /*first_epoch*/, int /*first_batch*/) {}
    virtual void on_step(const StepStats&) {}
    virtual void on_epoch(const EpochStats&) {}
    virtual void on_distributed(const DistributedInfo&) {}
};

// Thrown when a stop was requested (SIGINT, SIGTERM): the step in progress finished and a
// checkpoint was written first.
struct Interrupted : Error {
    using Error::Error;
};

// Async-signal-safe: asks a running train() to stop after its current step.
void request_stop();

EvalResult evaluate(Net& net, const ImageSet& set, int batch_size, int resize);
EvalResult evaluate(Net& net, BatchSource& source);  // one pass over the source's epoch 0

// Under mpirun, train() and resume() run data-parallel: every rank calls them with the same
// settings, `batch_size` is the global batch, rank 0 alone writes files and tells the observer, and
// evaluate() shares the test set out and sums over the ranks.
//
// Trains, writing into out_dir: model.safetensors, checkpoint.safetensors and curves.png/.svg after
// every epoch, config.json, and metrics.jsonl (docs/usage.md lists its fields). Throws Error for bad settings
// or data, and when the loss stops being finite (after saving the last weights whose loss was).
std::vector<EpochStats> train(const TrainConfig& config, TrainObserver* observer = nullptr);

// What a resumed run may change of its settings (0, or -1 for checkpoint_every: keep the run's).
// A resumed run ends with the same weights as an uninterrupted one when neither `threads` (another
// count shares the batch out and rounds differently) nor, under a cosine schedule, `epochs` (the
// schedule spans the run) changes; the other two change only what is written.
struct ResumeChanges {
    int epochs = 0;
    int threads = 0;
    int log_every = 0;
    int checkpoint_every = -1;
};

// Continues the run whose checkpoint is in `dir`, with its own settings but for `changes`.
std::vector<EpochStats> resume(const std::string& dir, const ResumeChanges& changes, TrainObserver* observer = nullptr);

// The settings as a run's config.json holds them (JSON, one key per setting; docs/usage.md).
std::string config_json(const TrainConfig& config);

// The settings of the run whose checkpoint is in `dir`.
TrainConfig run_settings(const std::string& dir);

// A setting given for a resumed run that is not the run's own: its config.json key and both
// values as JSON.
struct SettingDifference {
    std::string key, given, run;
};
// The settings among `keys` (config.json's names) on which `given` and `run` differ; paths are
// compared by the place they name.
std::vector<SettingDifference> differing_settings(const TrainConfig& given, const TrainConfig& run,
                                                  const std::vector<std::string>& keys);

// An epoch as metrics.jsonl records it: one line of JSON (docs/usage.md lists its fields).
std::string epoch_record(const EpochStats& s);

// The title of a run's curves: "d2l on Fashion-MNIST", "paper on flowers" (the training folder's name).
std::string run_title(const std::string& model_name, const std::string& train_folder);
// The same for a run's folder, from its config.json and model.safetensors ("training curves" when
// they are missing or unreadable).
std::string run_title(const std::string& run_dir);

// `spec` if it fits Fashion-MNIST (1-channel images, 10 classes); otherwise an error saying why.
ModelSpec model_for_fashion_mnist(const ModelSpec& spec);

}  // namespace googlenet
