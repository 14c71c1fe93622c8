#include "googlenet/trainer.h"

#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "googlenet/distributed.h"
#include "googlenet/image_folder.h"
#include "googlenet/io.h"
#include "googlenet/plot.h"
#include "googlenet/models.h"
#include "googlenet/train.h"
#include "train/checkpoint.h"

namespace googlenet {

namespace {

std::atomic<bool> g_stop_requested{false};

int correct(const float* logits, const int* labels, int n, int k) {
    int hits = 0;
    for (int i = 0; i < n; ++i) {
        const float* z = logits + size_t(i) * k;
        hits += int(std::max_element(z, z + k) - z) == labels[i];
    }
    return hits;
}

void make_dir(const std::string& dir) {
    std::string partial;
    for (size_t i = 0; i <= dir.size(); ++i) {
        if (i == dir.size() || dir[i] == '/') {
            if (!partial.empty() && ::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
                throw Error("cannot create output folder " + partial + ": " + std::strerror(errno));
        }
        if (i < dir.size()) partial += dir[i];
    }
    if (::access(dir.c_str(), W_OK) != 0) throw Error("output folder " + dir + " is not writable");
}

void validate(const TrainConfig& c) {
    if (c.epochs < 1) throw Error("--epochs must be at least 1");
    if (c.batch_size < 1) throw Error("--batch-size must be at least 1");
    if (!(c.lr > 0) || !std::isfinite(c.lr)) throw Error("--lr must be a positive number");
    if (c.resize < 1) throw Error("--resize must be at least 1");
    if (c.log_every < 1) throw Error("--log-every must be at least 1");
    if (c.checkpoint_every < 0) throw Error("--checkpoint-every must not be negative");
    validate(c.engine);
}

LrSchedule schedule_of(const TrainConfig& c, int steps_per_epoch) {
    LrSchedule s;
    s.kind = c.lr_schedule;
    s.base_lr = c.lr;
    s.step_epochs = c.lr_step_epochs;
    s.gamma = c.lr_gamma;
    s.total_epochs = c.epochs;
    s.warmup_epochs = c.warmup_epochs;
    s.steps_per_epoch = steps_per_epoch;
    validate(s);
    return s;
}

// Appends JSON lines to metrics.jsonl; on resume the file is first cut back to what the
// checkpoint had seen, so records of steps that are done again do not appear twice.
class MetricsLog {
public:
    MetricsLog(const std::string& path, long keep_bytes) : path_(path) {
        if (keep_bytes == 0) {
            f_ = std::fopen(path.c_str(), "w");
        } else {
            if (::truncate(path.c_str(), keep_bytes) != 0)
                throw Error("cannot resume " + path + ": " + std::strerror(errno));
            f_ = std::fopen(path.c_str(), "a");
        }
        if (!f_) throw Error("cannot write " + path + ": " + std::strerror(errno));
    }
    ~MetricsLog() { std::fclose(f_); }
    void write(const std::string& line) {
        if (std::fputs((line + "\n").c_str(), f_) < 0 || std::fflush(f_) != 0)
            throw Error("cannot write " + path_ + ": " + std::strerror(errno));
    }
    long bytes() const { return std::ftell(f_); }

private:
    std::string path_;
    std::FILE* f_;
};

std::string step_record(const StepStats& s) {
    return fmt::format(R"({{"type": "step", "epoch": {}, "batch": {}, "step": {}, "loss": {:.6g}, "train_loss": {:.6g}, )"
                       R"("train_acc": {:.6g}, "lr": {:.6g}, "img_per_sec": {:.4g}, "wall_time": {:.3f}}})",
                       s.epoch, s.batch, s.step, s.loss, s.epoch_loss, s.epoch_acc, s.lr, s.images_per_sec, s.seconds);
}

std::string epoch_json(const EpochStats& s, bool distributed) {
    return fmt::format(R"({{"type": "epoch", "epoch": {}, "step": {}, "train_loss": {:.6g}, "train_acc": {:.6g}, )"
                       R"("test_loss": {:.6g}, "test_acc": {:.6g}, "lr": {:.6g}, "img_per_sec": {:.4g}, "wall_time": {:.3f})"
                       R"({}}})",
                       s.epoch, s.step, s.loss, s.train_acc, s.test_loss, s.test_acc, s.lr, s.images_per_sec, s.seconds,
                       distributed ? fmt::format(R"(, "ranks": {}, "comm_wait": {:.3f})", Communicator::world().size(),
                                                 s.comm_wait_seconds)
                                   : "");
}

void write_text_atomic(const std::string& path, const std::string& text) {
    write_file_atomic(path, [&](std::FILE* f) { std::fwrite(text.data(), 1, text.size(), f); });
}

// The "name" a model file's text gives, or `fallback` where it gives none.
std::string model_name(const std::string& model_text, const std::string& fallback) {
    const nlohmann::json j = nlohmann::json::parse(model_text, nullptr, false);
    return j.is_object() && j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>() : fallback;
}

// FNV-1a over the weights' bytes: equal on every rank exactly when the replicas are.
uint64_t checksum(const Buffer& b) {
    uint64_t h = 0xcbf29ce484222325ull;
    const auto* p = reinterpret_cast<const unsigned char*>(b.data());
    for (size_t i = 0; i < b.size() * sizeof(float); ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

std::vector<EpochStats> run(const TrainConfig& c, Net& net, Sgd& sgd, RunState st, TrainObserver* all_observer) {
    Communicator& comm = Communicator::world();
    const bool root = comm.root();  // writes every file and tells the observer; the other ranks compute
    TrainObserver* observer = root ? all_observer : nullptr;
    const std::string title = run_title(st.model_text.empty() ? c.model : model_name(st.model_text, c.model), c.train_folder);
    if (c.batch_size < comm.size())
        throw Error(fmt::format("--batch-size {} is the global batch and must be at least the number of ranks ({})",
                                c.batch_size, comm.size()));
    // The data: Fashion-MNIST, or a training and a validation image folder.
    ImageSet train_set, test_set;
    ImageFolder train_folder, val_folder;
    std::unique_ptr<BatchSource> train_source, test_source;
    if (c.train_folder.empty()) {
        train_set = load_fashion_mnist(c.data_dir, "train", c.train_limit);
        test_set = load_fashion_mnist(c.data_dir, "test", c.test_limit);
        train_source = std::make_unique<BatchLoader>(train_set, c.batch_size, c.resize, c.shuffle, c.seed, 3, comm.rank(),
                                                     comm.size());
        test_source = std::make_unique<BatchLoader>(test_set, c.batch_size, c.resize, false, 0, 3, comm.rank(), comm.size());
    } else {
        if (c.val_folder.empty()) throw Error("--train-folder needs --val-folder, the images to measure test accuracy on");
        train_folder = scan_image_folder(c.train_folder);
        val_folder = scan_image_folder(c.val_folder);
        if (val_folder.classes != train_folder.classes)
            throw Error(c.val_folder + ": its class folders differ from " + c.train_folder + "'s");
        if (int(train_folder.classes.size()) != net.classes())
            throw Error(fmt::format("{} has {} classes but model '{}' has {}: set \"classes\": {} in a copy of the model "
                                    "file",
                                    c.train_folder, train_folder.classes.size(), c.model, net.classes(),
                                    train_folder.classes.size()));
        ImageTransform t;
        t.channels = net.input_shape().c;
        t.size = c.resize;
        train_source = std::make_unique<FolderLoader>(train_folder, c.batch_size, t, c.shuffle, c.seed, c.data_threads,
                                                      c.skip_bad_images, comm.rank(), comm.size());
        t.train = false;
        test_source = std::make_unique<FolderLoader>(val_folder, c.batch_size, t, false, 0, c.data_threads,
                                                     c.skip_bad_images, comm.rank(), comm.size());
    }
    BatchSource& loader = *train_source;
    const int batches = loader.batches_per_epoch();
    const LrSchedule schedule = schedule_of(c, batches);
    const std::string weights_path = c.out_dir + "/model.safetensors";
    const std::string checkpoint_path = c.out_dir + "/checkpoint.safetensors";
    std::optional<MetricsLog> metrics;
    if (root) {
        metrics.emplace(c.out_dir + "/metrics.jsonl", st.metrics_bytes);
        write_text_atomic(c.out_dir + "/config.json", config_json(c));
    }
    // Every rank starts from rank 0's weights and optimizer state, whatever it read itself.
    comm.broadcast(net.params().values().data(), net.params().total());
    comm.broadcast(sgd.momentum_buffer().data(), sgd.momentum_buffer().size());
    comm.broadcast(net.params().buffers().data(), net.params().buffers().size());
    GradientSync sync(comm, net.params());
    DistributedInfo info;
    if (comm.distributed()) {
        info.ranks = comm.size();
        info.buckets = sync.buckets();
        info.gradient_mib = double(net.params().total()) * sizeof(float) / (1 << 20);
        info.allreduce_seconds = sync.allreduce_seconds();
    }

    // The weights before the latest update: if that update makes the loss non-finite, these are
    // the last weights known to give a finite loss, and they are what gets saved, with the batch-
    // norm statistics as they were before the bad forward pass. Until a step of this process has
    // had a finite loss there are none (a resumed run's first step), and model.safetensors is
    // left as it is.
    Buffer last_good(net.params().total()), buffers_before(net.params().buffers().size());
    bool have_last_good = false;
    const auto process_start = std::chrono::steady_clock::now();
    auto run_seconds = [&] {
        return st.run_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - process_start).count();
    };
    auto checkpoint = [&](RunState snapshot) {
        if (!root) return;
        snapshot.run_seconds = run_seconds();
        snapshot.metrics_bytes = metrics->bytes();
        snapshot.sgd_started = sgd.started();
        save_checkpoint(checkpoint_path, net.params(), sgd, c, snapshot);
    };
    if (observer) observer->on_start(c, batches, st.epoch, st.batch);
    if (observer && comm.distributed()) observer->on_distributed(info);
    g_stop_requested = false;
    for (; st.epoch <= c.epochs; ++st.epoch) {
        loader.start_epoch(st.epoch, st.batch);
        auto t0 = std::chrono::steady_clock::now();
        Batch b;
        const double comm_wait_at_start = sync.wait_seconds();
        while (loader.next(b)) {
            if (b.global_size == 0) {  // every image of this batch was unreadable and left out
                ++st.batch;
                continue;
            }
            const double lr = lr_at(schedule, (st.epoch - 1) + double(st.batch) / batches);
            sgd.set_lr(float(lr));
            float loss = 0;
            long hits = 0;
            if (b.size > 0) {  // a rank's shard of the last, short batch may be empty
                if (buffers_before.size() > 0)
                    std::memcpy(buffers_before.data(), net.params().buffers().data(), buffers_before.size() * sizeof(float));
                net.set_batch(b.size);
                net.set_random(c.seed, uint64_t(st.step) * uint64_t(comm.size()) + uint64_t(comm.rank()));
                const float* logits = net.forward(b.images.data());
                loss = net.loss(b.labels.data());
                hits = correct(logits, b.labels.data(), b.size, net.classes());
            }
            bool stop = g_stop_requested.load();
            double loss_sum = double(loss) * b.size;
            if (comm.distributed()) {  // the global batch's loss and hits; a stop asked of any rank stops all
                double totals[3] = {loss_sum, double(hits), stop ? 1.0 : 0.0};
                comm.allreduce_sum(totals, 3);
                loss_sum = totals[0];
                loss = float(loss_sum / b.global_size);
                hits = long(totals[1]);
                stop = totals[2] > 0;
            }
            if (!std::isfinite(loss)) {
                const char* what = std::isnan(loss) ? "nan" : loss > 0 ? "inf" : "-inf";
                if (st.step == 0)
                    throw Error(fmt::format("loss is {} at the first step: the initial weights give a non-finite "
                                            "loss; nothing was written",
                                            what));
                const std::string where = fmt::format("loss is {} at epoch {}, batch {} (step {}): training stopped", what,
                                                      st.epoch, st.batch + 1, st.step + 1);
                if (!have_last_good)
                    throw Error(fmt::format("{}; it is the first step of this resumed run, so no weights of it had a "
                                            "finite loss: {} and the checkpoint were left as they were",
                                            where, weights_path));
                std::memcpy(net.params().values().data(), last_good.data(), last_good.size() * sizeof(float));
                if (buffers_before.size() > 0)
                    std::memcpy(net.params().buffers().data(), buffers_before.data(), buffers_before.size() * sizeof(float));
                if (root) save_weights(weights_path, net.params(), st.model_text);
                // The other ranks end the job as they leave (Communicator::abort): not before rank 0 has written.
                if (comm.distributed()) {
                    double written = 0;
                    comm.allreduce_sum(&written, 1);
                }
                throw Error(fmt::format("{}; the last weights with a finite loss are in {}", where, weights_path));
            }
            if (!comm.distributed()) {
                net.backward();
            } else {
                sync.begin_step(double(b.size) / b.global_size);
                if (b.size > 0)
                    net.backward([&](const Op& op) { sync.on_op_done(op); });
                else
                    std::fill(net.params().grads().data(), net.params().grads().data() + net.params().total(), 0.f);
                sync.finish();
            }
            std::memcpy(last_good.data(), net.params().values().data(), last_good.size() * sizeof(float));
            have_last_good = true;
            sgd.step();
            // Batch norm's running statistics saw only this rank's images: keep rank 0's, as
            // PyTorch's DistributedDataParallel does (broadcast_buffers).
            comm.broadcast(net.params().buffers().data(), net.params().buffers().size());

            st.loss_sum += loss_sum;
            st.hits += hits;
            st.seen += b.global_size;
            ++st.batch;
            ++st.step;
            const auto t1 = std::chrono::steady_clock::now();
            st.epoch_seconds += std::chrono::duration<double>(t1 - t0).count();
            t0 = t1;
            StepStats s;
            s.epoch = st.epoch;
            s.batch = st.batch;
            s.batches = batches;
            s.step = st.step;
            s.loss = loss;
            s.epoch_loss = st.loss_sum / double(st.seen);
            s.epoch_acc = double(st.hits) / double(st.seen);
            s.lr = lr;
            s.images_per_sec = double(st.seen) / st.epoch_seconds;
            s.seconds = run_seconds();
            s.epoch_eta = st.epoch_seconds / st.batch * (batches - st.batch);
            if (metrics && st.step % c.log_every == 0) metrics->write(step_record(s));
            if (observer) observer->on_step(s);
            if (stop || (c.checkpoint_every > 0 && st.step % c.checkpoint_every == 0 && st.batch < batches)) {
                checkpoint(st);
                if (stop) {
                    if (root) save_weights(weights_path, net.params(), st.model_text);
                    throw Interrupted(fmt::format("stopped at epoch {}, batch {} (step {}); checkpoint written to "
                                                  "{}; continue with: googlenet train --resume {}",
                                                  st.epoch, st.batch, st.step, checkpoint_path, c.out_dir));
                }
            }
        }
        EpochStats e;
        e.epoch = st.epoch;
        e.step = st.step;
        e.loss = st.loss_sum / double(st.seen);
        e.train_acc = double(st.hits) / double(st.seen);
        e.images_per_sec = double(st.seen) / st.epoch_seconds;
        e.lr = sgd.options().lr;
        e.comm_wait_seconds = sync.wait_seconds() - comm_wait_at_start;
        if (comm.distributed() && !comm.same_on_all_ranks(checksum(net.params().values())))
            throw Error(fmt::format("the ranks' weights differ after epoch {}: the replicas have diverged", st.epoch));
        const EvalResult test = evaluate(net, *test_source);
        e.test_loss = test.loss;
        e.test_acc = test.accuracy;
        e.seconds = run_seconds();
        if (metrics) metrics->write(epoch_json(e, comm.distributed()));
        st.history.push_back(e);
        if (root) save_weights(weights_path, net.params(), st.model_text);
        st.batch = 0;
        st.loss_sum = 0;
        st.hits = st.seen = 0;
        st.epoch_seconds = 0;
        RunState next = st;
        ++next.epoch;
        checkpoint(next);
        if (root) draw_line_chart(training_curves(c.out_dir + "/metrics.jsonl", title), c.out_dir + "/curves");
        if (observer) observer->on_epoch(e);
        if (g_stop_requested.load() && st.epoch < c.epochs)
            throw Interrupted(fmt::format("stopped after epoch {}; checkpoint written to {}; continue with: "
                                          "googlenet train --resume {}",
                                          st.epoch, checkpoint_path, c.out_dir));
    }
    return st.history;
}

}  // namespace

void request_stop() { g_stop_requested = true; }

std::string epoch_record(const EpochStats& s) { return epoch_json(s, Communicator::world().distributed()); }

std::string run_title(const std::string& model_name, const std::string& train_folder) {
    if (train_folder.empty()) return model_name + " on Fashion-MNIST";
    std::string folder = train_folder;
    while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
    return model_name + " on " + folder.substr(folder.find_last_of('/') == std::string::npos ? 0 : folder.find_last_of('/') + 1);
}

std::string run_title(const std::string& dir) {
    TrainConfig c;
    try {
        c = read_config_json(dir + "/config.json");
    } catch (const Error&) {
        return "training curves";  // a folder from an older googlenet, or with its files moved away
    }
    std::string name = c.model;
    try {
        const auto meta = read_safetensors_metadata(dir + "/model.safetensors");
        if (meta.count("googlenet.model")) name = model_name(meta.at("googlenet.model"), c.model);
    } catch (const Error&) {
        // no weights yet (a run stopped in its first epoch): the --model it was given
    }
    return run_title(name, c.train_folder);
}

EvalResult evaluate(Net& net, const ImageSet& set, int batch_size, int resize) {
    Communicator& comm = Communicator::world();
    BatchLoader loader(set, batch_size, resize, false, 0, 3, comm.rank(), comm.size());
    return evaluate(net, loader);
}

EvalResult evaluate(Net& net, BatchSource& loader) {
    Communicator& comm = Communicator::world();
    loader.start_epoch(0);
    net.set_training(false);
    struct BackToTraining {
        Net& net;
        ~BackToTraining() { net.set_training(true); }
    } back_to_training{net};
    Batch b;
    EvalResult r;
    double loss_sum = 0;
    int hits = 0;
    const int k = net.classes();
    r.confusion.assign(size_t(k) * size_t(k), 0);
    while (loader.next(b)) {
        if (b.size == 0) continue;
        net.set_batch(b.size);
        const float* logits = net.forward(b.images.data());
        loss_sum += double(net.loss(b.labels.data())) * b.size;
        hits += correct(logits, b.labels.data(), b.size, k);
        for (int i = 0; i < b.size; ++i) {
            const float* z = logits + size_t(i) * size_t(k);
            ++r.confusion[size_t(b.labels[size_t(i)]) * size_t(k) + size_t(std::max_element(z, z + k) - z)];
        }
        r.count += b.size;
    }
    if (comm.distributed()) {  // each rank saw its share of every batch: sum them
        std::vector<double> totals = {loss_sum, double(hits), double(r.count)};
        totals.insert(totals.end(), r.confusion.begin(), r.confusion.end());
        comm.allreduce_sum(totals.data(), int(totals.size()));
        loss_sum = totals[0];
        hits = int(totals[1]);
        r.count = int(totals[2]);
        for (size_t i = 0; i < r.confusion.size(); ++i) r.confusion[i] = long(totals[3 + i]);
    }
    r.loss = loss_sum / r.count;
    r.accuracy = double(hits) / r.count;
    return r;
}

ModelSpec model_for_fashion_mnist(const ModelSpec& spec) {
    if (spec.in_channels != 1 || spec.classes != 10)
        throw Error(fmt::format("{}: model '{}' takes {}-channel images into {} classes; Fashion-MNIST has 1-channel "
                                "images of 10 classes",
                                spec.source, spec.name, spec.in_channels, spec.classes));
    return spec;
}

std::vector<EpochStats> train(const TrainConfig& config, TrainObserver* observer) {
    const ModelSpec spec =
        config.train_folder.empty() ? model_for_fashion_mnist(load_model(config.model)) : load_model(config.model);
    TrainConfig c = config;
    if (c.resize == 0) c.resize = spec.input_size;
    validate(c);
    schedule_of(c, 1);
    Net net = build_net(spec, c.resize);
    net.set_options(resolved(c.engine));
    if (c.init_weights.empty())
        init_params(net.params(), c.seed);
    else
        load_weights(c.init_weights, net);
    make_dir(c.out_dir);
    Sgd sgd(net.params(), SgdOptions{c.lr, c.momentum, c.weight_decay, c.nesterov});
    RunState st;
    st.model_text = spec.text;
    return run(c, net, sgd, st, observer);
}

TrainConfig run_settings(const std::string& dir) {
    TrainConfig c;
    RunState st;
    TensorMap tensors;
    read_checkpoint(dir + "/checkpoint.safetensors", c, st, tensors);
    return c;
}

std::vector<EpochStats> resume(const std::string& dir, const ResumeChanges& changes, TrainObserver* observer) {
    const std::string path = dir + "/checkpoint.safetensors";
    TrainConfig c;
    c.engine.parallel = Parallel::ops;  // what checkpoints from before the setting was saved ran with
    RunState st;
    TensorMap tensors;
    read_checkpoint(path, c, st, tensors);
    c.out_dir = dir;
    if (changes.epochs > 0) c.epochs = changes.epochs;
    if (changes.threads > 0) c.engine.threads = changes.threads;
    if (changes.log_every > 0) c.log_every = changes.log_every;
    if (changes.checkpoint_every >= 0) c.checkpoint_every = changes.checkpoint_every;
    validate(c);
    if (st.epoch > c.epochs)
        throw Error(fmt::format("{}: the run already finished its {} epochs; pass --epochs N (N > {}) to train on",
                                path, st.epoch - 1, st.epoch - 1));
    // The network as it was when the run started, even if its model file has changed since.
    ModelSpec spec = st.model_text.empty() ? load_model(c.model) : parse_model(st.model_text, path + " (model " + c.model + ")");
    if (c.train_folder.empty()) spec = model_for_fashion_mnist(spec);
    Net net = build_net(spec, c.resize);
    net.set_options(resolved(c.engine));
    Sgd sgd(net.params(), SgdOptions{c.lr, c.momentum, c.weight_decay, c.nesterov});
    load_checkpoint_tensors(path, tensors, net.params(), sgd, st.sgd_started);
    make_dir(c.out_dir);
    return run(c, net, sgd, st, observer);
}

}  // namespace googlenet
