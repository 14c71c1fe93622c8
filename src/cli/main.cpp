// The googlenet command: a thin layer over the library.
#include <omp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <atomic>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <csignal>
#include <cstdlib>
#include <thread>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <fmt/format.h>

#include "googlenet/bench.h"
#include "googlenet/distributed.h"
#include "googlenet/image.h"
#include "googlenet/image_folder.h"
#include "googlenet/io.h"
#include "googlenet/models.h"
#include "googlenet/plot.h"
#include "googlenet/trainer.h"
#include "cli/commands.h"

using namespace googlenet;

namespace {

std::string join(const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
}

const char* const kParallelHelp =
    "batch: each thread runs its own copy of the network on its share of the batch (not for batch-norm models; batches of 8+ images a thread); smaller batches in evaluation run the Inception paths side by side, one thread each; ops: every op on all threads";

void add_data_options(CLI::App* cmd, TrainConfig& c) {
    cmd->add_option("--data-dir", c.data_dir, "Folder with Fashion-MNIST's IDX files (*-idx?-ubyte.gz)")
        ->capture_default_str();
    cmd->add_option("--model", c.model, "A built-in model (" + join(builtin_models()) +
                                            ") or a model file (docs/models.md)")
        ->capture_default_str();
    cmd->add_option("--resize", c.resize, "Resize the 28x28 images to this size (PIL bilinear; 0: the model's input size)")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));
    cmd->add_option("--batch-size", c.batch_size, "Images per batch")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--test-limit", c.test_limit, "Use only the first N test images (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--threads", c.threads, "Compute threads (0: every core)")->capture_default_str()->check(CLI::NonNegativeNumber);
    cmd->add_option("--parallel", c.parallel, kParallelHelp)->capture_default_str()->check(CLI::IsMember({"batch", "ops"}));
}

// Progress on the terminal: a live bar when stdout is a terminal, a plain line every
// --log-every steps when it is not (CI, a log file), nothing per step with --quiet.
class Progress : public TrainObserver {
public:
    // Under mpirun a rank's stdout is a pseudo-terminal even when mpirun's own output goes to a log
    // file, so a data-parallel run always prints plain lines.
    explicit Progress(bool quiet)
        : quiet_(quiet), tty_(::isatty(::fileno(stdout)) && !Communicator::world().distributed()) {}

    void on_start(const TrainConfig& c, int batches, int epoch, int batch) override {
        epochs_ = c.epochs;
        log_every_ = c.log_every;
        std::printf("training %s on %s: %d epochs of %d batches, batch %d, lr %g (%s), momentum %g, "
                    "weight decay %g%s, %dx%d, %d threads (parallel: %s), seed %llu\n",
                    c.model.c_str(), c.train_folder.empty() ? "Fashion-MNIST" : c.train_folder.c_str(), c.epochs,
                    batches, c.batch_size, double(c.lr), c.lr_schedule.c_str(), double(c.momentum),
                    double(c.weight_decay), c.nesterov ? " (nesterov)" : "", c.resize, c.resize,
                    resolve_threads(c.threads), c.parallel.c_str(), static_cast<unsigned long long>(c.seed));
        if (epoch > 1 || batch > 0) std::printf("resuming at epoch %d, batch %d\n", epoch, batch + 1);
        std::fflush(stdout);
    }

    void on_step(const StepStats& s) override {
        if (quiet_) return;
        if (tty_) {
            const auto now = std::chrono::steady_clock::now();
            if (s.batch != s.batches && now - last_draw_ < std::chrono::milliseconds(200)) return;
            last_draw_ = now;
            const int width = 30, filled = width * s.batch / s.batches;
            std::printf("\r\033[Kepoch %d/%d [%s%s] %d/%d  loss %.4f  acc %.4f  %.1f img/s  ETA %s", s.epoch, epochs_,
                        std::string(size_t(filled), '#').c_str(), std::string(size_t(width - filled), '.').c_str(),
                        s.batch, s.batches, s.epoch_loss, s.epoch_acc, s.images_per_sec,
                        duration(s.epoch_eta).c_str());
            std::fflush(stdout);
        } else if (s.step % log_every_ == 0) {
            std::printf("epoch %d/%d batch %d/%d: loss %.4f, train acc %.4f, lr %.4g, %.1f img/s, %.1f s\n", s.epoch,
                        epochs_, s.batch, s.batches, s.epoch_loss, s.epoch_acc, s.lr, s.images_per_sec, s.seconds);
            std::fflush(stdout);
        }
    }

    void on_epoch(const EpochStats& s) override {
        if (tty_ && !quiet_) std::printf("\r\033[K");
        std::printf("epoch %d: loss %.4f, train acc %.4f, test acc %.4f, %.1f img/s, %.1f s%s\n", s.epoch, s.loss,
                    s.train_acc, s.test_acc, s.images_per_sec, s.seconds,
                    ranks_ > 1 ? fmt::format(", {:.2f} s waiting for allreduce", s.comm_wait_seconds).c_str() : "");
        std::fflush(stdout);
    }

    void on_distributed(const DistributedInfo& d) override {
        ranks_ = d.ranks;
        std::printf("data-parallel over %d ranks: gradients %.1f MiB in %d buckets, reduced while backward runs; "
                    "one blocking allreduce of them takes %.1f ms\n",
                    d.ranks, d.gradient_mib, d.buckets, d.allreduce_seconds * 1e3);
        std::fflush(stdout);
    }

private:
    static std::string duration(double seconds) {
        const long t = long(seconds);
        return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60) : fmt::format("{}:{:02}", t / 60, t % 60);
    }

    bool quiet_, tty_;
    int epochs_ = 0, log_every_ = 50, ranks_ = 1;
    std::chrono::steady_clock::time_point last_draw_{};
};

// SIGINT and SIGTERM ask training to stop after its current step (a second one ends the process).
// They are blocked in every thread and taken by sigwait on a thread of their own, never by an
// asynchronous handler: oneDNN's JIT GEMM kernels (up to 3.11, uxlfoundation/oneDNN#4845) point
// rsp into the heap while they run, so a handler executing on a compute thread corrupts the heap.
// Must be called before any other thread (OpenMP's included) exists, so that all inherit the mask.
std::atomic<bool> g_training{false};  // outside training, the first signal ends the process

void take_stop_signals_on_their_own_thread() {
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([] {
        int count = 0, sig = 0;
        while (sigwait(&set, &sig) == 0) {
            if (++count > 1 || !g_training) std::_Exit(128 + sig);
            request_stop();
        }
    }).detach();
}

// OMP_THREAD_LIMIT below --threads: the run takes the threads it is allowed (resolve_threads),
// and says so.
void note_thread_limit(int threads) {
    if (threads > omp_get_thread_limit())
        std::fprintf(stderr, "googlenet: note: --threads %d, but OpenMP allows %d (OMP_THREAD_LIMIT): running on %d\n",
                     threads, omp_get_thread_limit(), omp_get_thread_limit());
}

// `train --resume DIR` with other flags: those that may change are taken (ResumeChanges); any other
// is accepted when it repeats the run's own value, so that the command that started a run, with
// --resume added, continues it; one that differs is refused, naming it.
ResumeChanges resume_changes(const CLI::App& cmd, const TrainConfig& given, const std::string& dir) {
    static const std::set<std::string> may_change = {"--resume", "--epochs", "--threads", "--quiet", "--comm-timeout",
                                                     "--log-every", "--checkpoint-every"};
    static const std::map<std::string, std::string> key_of = {
        {"--out", "out_dir"}, {"--init", "init"}, {"--no-shuffle", "shuffle"}, {"--bad-images", "skip_bad_images"}};
    std::vector<std::string> keys, flags;
    for (const CLI::Option* o : cmd.get_options()) {
        const std::string name = o->get_name();
        if (o->count() == 0 || may_change.count(name) || name == "--help") continue;
        std::string key = key_of.count(name) ? key_of.at(name) : name.substr(2);
        std::replace(key.begin(), key.end(), '-', '_');
        keys.push_back(key);
        flags.push_back(name);
    }
    ResumeChanges changes;
    if (!keys.empty()) {
        TrainConfig run = run_settings(dir);
        run.out_dir = dir;  // the run's folder is where its checkpoint is, wherever it was started from
        const std::vector<SettingDifference> diffs = differing_settings(given, run, keys);
        if (!diffs.empty()) {
            std::string what;
            for (const SettingDifference& d : diffs) {
                const std::string flag = flags[size_t(std::find(keys.begin(), keys.end(), d.key) - keys.begin())];
                what += fmt::format("{}{} {} (the run's: {})", what.empty() ? "" : "; ", flag, d.given, d.run);
            }
            throw Error(fmt::format("{}: a resumed run keeps its own settings, and only --epochs, --threads, --log-every, "
                                    "--checkpoint-every, --quiet and --comm-timeout may change ({})",
                                    diffs.size() == 1 ? "this setting differs from the run's" : "these settings differ from the run's",
                                    what));
        }
    }
    auto given_flag = [&](const char* name) { return cmd.get_option(name)->count() > 0; };
    if (given_flag("--epochs")) changes.epochs = given.epochs;
    if (given_flag("--threads")) changes.threads = given.threads;
    if (given_flag("--log-every")) changes.log_every = given.log_every;
    if (given_flag("--checkpoint-every")) changes.checkpoint_every = given.checkpoint_every;
    return changes;
}

int run_train(const TrainConfig& c, const std::string& resume_dir, const ResumeChanges& changes, bool quiet) {
    Progress progress(quiet);
    g_training = true;
    std::vector<EpochStats> history;
    const bool root = Communicator::world().root();  // under mpirun, rank 0 alone prints
    try {
        history = resume_dir.empty() ? train(c, &progress) : resume(resume_dir, changes, &progress);
    } catch (const Interrupted& e) {
        std::fflush(stdout);
        if (root) std::fprintf(stderr, "googlenet: %s\n", e.what());
        return 130;
    }
    if (!root) return 0;
    const EpochStats& last = history.back();
    std::printf("loss %.3f, train acc %.3f, test acc %.3f\n", last.loss, last.train_acc, last.test_acc);
    std::printf("%.1f examples/sec on cpu\n", last.images_per_sec);
    std::printf("weights: %s/model.safetensors\n", (resume_dir.empty() ? c.out_dir : resume_dir).c_str());
    return 0;
}

// Test loss and accuracy, then per-class accuracy and the confusion matrix: printed, and written
// to out_dir as confusion.png, confusion.svg and confusion.csv.
int run_eval(const TrainConfig& c, const std::string& weights, std::string out_dir) {
    const bool folder = !c.val_folder.empty();  // an image folder instead of Fashion-MNIST's test set
    const ModelSpec spec = folder ? load_model(c.model) : model_for_fashion_mnist(load_model(c.model));
    const int size = c.resize > 0 ? c.resize : spec.input_size;
    Net net = build_net(spec, size);
    net.set_threads(resolve_threads(c.threads));
    net.set_batch_split(c.parallel == "batch");
    load_weights(weights, net);
    EvalResult r;
    std::vector<std::string> classes;
    if (folder) {
        const ImageFolder val = scan_image_folder(c.val_folder);
        if (int(val.classes.size()) != spec.classes)
            throw Error(fmt::format("{} has {} classes but model '{}' has {}", c.val_folder, val.classes.size(),
                                    spec.name, spec.classes));
        ImageTransform t;
        t.channels = spec.in_channels;
        t.size = size;
        t.train = false;
        FolderLoader loader(val, c.batch_size, t, false, 0, c.data_threads, c.skip_bad_images);
        r = evaluate(net, loader);
        classes = val.classes;
    } else {
        const ImageSet test_set = load_fashion_mnist(c.data_dir, "test", c.test_limit);
        r = evaluate(net, test_set, c.batch_size, size);
        classes.assign(kFashionMnistClasses, kFashionMnistClasses + 10);
    }
    std::printf("test loss %.4f, test acc %.4f (%d images)\n", r.loss, r.accuracy, r.count);

    const int k = net.classes();
    auto at = [&](int t, int p) { return r.confusion[size_t(t * k + p)]; };
    std::printf("\n%-12s %8s %8s %9s\n", "class", "correct", "images", "accuracy");
    for (int t = 0; t < k; ++t) {
        long total = 0;
        for (int p = 0; p < k; ++p) total += at(t, p);
        std::printf("%-12s %8ld %8ld %9s\n", classes[size_t(t)].c_str(), at(t, t), total,
                    total ? fmt::format("{:.4f}", double(at(t, t)) / double(total)).c_str() : "-");
    }
    std::printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%-14s", "");
    for (int p = 0; p < k; ++p) std::printf(" %5d", p);
    std::printf("\n");
    std::string csv = "true\\predicted";
    for (const auto& name : classes) csv += "," + name;
    csv += "\n";
    for (int t = 0; t < k; ++t) {
        std::printf("%d %-12s", t, classes[size_t(t)].c_str());
        csv += classes[size_t(t)];
        for (int p = 0; p < k; ++p) {
            std::printf(" %5ld", at(t, p));
            csv += "," + std::to_string(at(t, p));
        }
        std::printf("\n");
        csv += "\n";
    }

    if (out_dir.empty()) {
        const size_t slash = weights.find_last_of('/');
        out_dir = slash == std::string::npos ? "." : weights.substr(0, slash == 0 ? 1 : slash);
    }
    const std::string stem = out_dir + "/confusion";
    draw_confusion_matrix(r.confusion, classes,
                          fmt::format("{}: test acc {:.4f} ({} images)", weights.substr(weights.find_last_of('/') + 1),
                                      r.accuracy, r.count),
                          stem);
    write_file_atomic(stem + ".csv", [&](std::FILE* f) { std::fwrite(csv.data(), 1, csv.size(), f); });
    std::printf("\nwritten: %s.png, %s.svg, %s.csv\n", stem.c_str(), stem.c_str(), stem.c_str());
    return 0;
}

// bench --profile: every op's time in the net's order, then the totals by kind of op.
void print_profile(const BenchResult& r) {
    const bool train = r.config.mode == "train";
    if (r.batch_split)
        std::printf("\nper op, ms per timed iteration, per copy of the net (each copy runs its share of the batch, "
                    "all copies at once):\n");
    else if (r.paths_side_by_side)
        std::printf("\nper op, ms per timed iteration, on the thread that ran it (the paths of a block run at once on "
                    "different threads, so the ops add up to more than the iteration):\n");
    else
        std::printf("\nper op, ms per timed iteration (every op on all %d threads):\n", r.threads);
    auto total = [](const OpProfile& o) { return o.forward_ms + o.backward_data_ms + o.backward_weights_ms; };
    double sum = 0;
    for (const OpProfile& o : r.ops) sum += total(o);
    if (train)
        std::printf("%9s %9s %9s %9s %6s  %-44s %-11s %s\n", "forward", "bwd-data", "bwd-wts", "total", "share", "op", "output",
                    "kernels (forward | backward-data | backward-weights)");
    else
        std::printf("%9s %6s  %-44s %-11s %s\n", "forward", "share", "op", "output", "kernels (forward | ...)");
    std::map<std::string, std::array<double, 3>> by_kind;
    for (const OpProfile& o : r.ops) {
        const double share = sum > 0 ? 100 * total(o) / sum : 0;
        if (train)
            std::printf("%9.2f %9.2f %9.2f %9.2f %5.1f%%  %-44s %-11s %s\n", o.forward_ms, o.backward_data_ms,
                        o.backward_weights_ms, total(o), share, o.op.c_str(), o.output.c_str(), o.kernels.c_str());
        else
            std::printf("%9.2f %5.1f%%  %-44s %-11s %s\n", o.forward_ms, share, o.op.c_str(), o.output.c_str(),
                        o.kernels.substr(0, o.kernels.find(" |")).c_str());
        auto& k = by_kind[o.kind];
        k[0] += o.forward_ms, k[1] += o.backward_data_ms, k[2] += o.backward_weights_ms;
    }
    std::printf(train ? "\nby kind of op (ms: forward / backward-data / backward-weights):\n" : "\nby kind of op (ms):\n");
    std::vector<std::pair<std::string, std::array<double, 3>>> kinds(by_kind.begin(), by_kind.end());
    std::sort(kinds.begin(), kinds.end(), [](const auto& a, const auto& b) {
        return a.second[0] + a.second[1] + a.second[2] > b.second[0] + b.second[1] + b.second[2];
    });
    for (const auto& [kind, t] : kinds) {
        std::printf("  %-18s %9.2f  %5.1f%%", kind.c_str(), t[0] + t[1] + t[2], sum > 0 ? 100 * (t[0] + t[1] + t[2]) / sum : 0);
        if (train) std::printf("   %.2f / %.2f / %.2f", t[0], t[1], t[2]);
        std::printf("\n");
    }
    for (const std::string& w : slow_ops(r.ops)) std::fprintf(stderr, "googlenet: warning: %s\n", w.c_str());
    if (r.paths_side_by_side)
        std::printf("ops: %.2f ms of thread time; the iteration: %.2f ms (mean)\n", sum, r.ms_mean);
    else
        std::printf("ops: %.2f ms of the iteration's %.2f (mean); outside them %.2f ms (%s)\n", sum, r.ms_mean, r.ms_mean - sum,
                    !train            ? "the input copy"
                    : r.batch_split ? "the loss, waiting for the other copies, the copies' gradient sum, SGD"
                                    : "the loss, SGD");
}

int run_bench(const BenchConfig& config, bool json) {
    const BenchResult r = benchmark(config);
    const BenchConfig& c = r.config;  // with the model's input size filled in
    std::printf("bench %s: %s, batch %d, %dx%d, %d threads (%s), %d warm-up + %d timed iterations\n", c.mode.c_str(),
                c.model.c_str(), c.batch_size, c.size, c.size, r.threads, r.batch_split ? "batch split" : r.paths_side_by_side ? "paths side by side" : "every op on all",
                c.warmup, c.iters);
    std::printf("%.1f img/s, %.1f ms/iter (median; best %.1f), %.1f GFLOP/s, peak RSS %.0f MiB\n", r.images_per_sec,
                r.ms_per_iter, r.ms_best, r.gflops, r.peak_rss_mib);
    std::printf("planned: activations %.0f MiB, gradients %.0f MiB; parameters and their gradients %.0f MiB\n",
                r.activations_mib, r.gradients_mib, r.parameters_mib);
    if (c.profile) print_profile(r);
    if (!json) return 0;
    nlohmann::ordered_json j{{"mode", c.mode}, {"model", c.model}, {"batch_size", c.batch_size}, {"size", c.size},
                             {"threads", r.threads}, {"batch_split", r.batch_split}, {"paths_side_by_side", r.paths_side_by_side},
                             {"warmup", c.warmup}, {"iters", c.iters}, {"images_per_sec", r.images_per_sec},
                             {"ms_per_iter", r.ms_per_iter}, {"ms_best", r.ms_best}, {"ms_mean", r.ms_mean}, {"gflops", r.gflops},
                             {"peak_rss_mib", r.peak_rss_mib}, {"activations_mib", r.activations_mib},
                             {"gradients_mib", r.gradients_mib}, {"parameters_mib", r.parameters_mib},
                             {"macs_per_image", r.macs_per_image}};
    if (c.profile) {
        j["ops"] = nlohmann::ordered_json::array();
        for (const OpProfile& o : r.ops)
            j["ops"].push_back({{"op", o.op}, {"kind", o.kind}, {"output", o.output}, {"kernels", o.kernels},
                                {"forward_ms", o.forward_ms}, {"backward_data_ms", o.backward_data_ms},
                                {"backward_weights_ms", o.backward_weights_ms}, {"gflops", o.gflops}});
        j["slow_ops"] = slow_ops(r.ops);
    }
    std::printf("%s\n", j.dump().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    take_stop_signals_on_their_own_thread();
    Communicator::world();  // joins the MPI job when started by mpirun; before any compute thread exists
    CLI::App app{"GoogLeNet (Inception v1) on oneDNN: train, evaluate and run D2L's, the paper's and torchvision's "
                 "networks, or your own model files, on Fashion-MNIST or image folders"};
    app.set_version_flag("--version", "googlenet 0.1.0");
    app.require_subcommand(1);
    // A flag given twice takes its last value, as argparse does: a script's default followed by
    // the user's own (scripts/quickstart.sh --out DIR) is no error.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

    TrainConfig c;
    CLI::App* train_cmd = app.add_subcommand("train", "Train a network (defaults: D2L's GoogLeNet and settings on Fashion-MNIST)");
    add_data_options(train_cmd, c);
    train_cmd->add_option("--epochs", c.epochs, "Passes over the training set")->capture_default_str()->check(CLI::Range(1, 1000000));
    train_cmd->add_option("--lr", c.lr, "SGD learning rate")->capture_default_str()->check(CLI::PositiveNumber);
    train_cmd->add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str()->check(CLI::Range(0.0, 1.0));
    train_cmd->add_option("--weight-decay", c.weight_decay, "L2 penalty added to every gradient")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    train_cmd->add_flag("--nesterov", c.nesterov, "Nesterov momentum");
    train_cmd->add_option("--seed", c.seed, "Seed for the initial weights and the shuffling")->capture_default_str();
    train_cmd->add_option("--train-limit", c.train_limit, "Use only the first N training images (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    train_cmd->add_option("--init", c.init_weights, "Start from this weights file (safetensors) instead of a fresh init")
        ->check(CLI::ExistingFile);
    train_cmd->add_option("--train-folder", c.train_folder,
                          "Train on this image folder (one sub-folder of PNG/JPEG files per class) instead of Fashion-MNIST")
        ->check(CLI::ExistingDirectory);
    train_cmd->add_option("--val-folder", c.val_folder, "With --train-folder: the image folder to measure test accuracy on")
        ->check(CLI::ExistingDirectory);
    train_cmd->add_option("--data-threads", c.data_threads, "Threads decoding image-folder images ahead of compute")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    std::string bad_images = "skip";
    train_cmd->add_option("--bad-images", bad_images, "An unreadable image in a folder: skip (reported, left out) or fail")
        ->capture_default_str()
        ->check(CLI::IsMember({"skip", "fail"}));
    bool no_shuffle = false;
    train_cmd->add_flag("--no-shuffle", no_shuffle, "Keep the training set's order in every epoch");
    train_cmd->add_option("--out", c.out_dir, "Output folder: model.safetensors, checkpoint.safetensors, config.json, metrics.jsonl")
        ->capture_default_str();
    train_cmd->add_option("--lr-schedule", c.lr_schedule, "constant, step (x gamma every --lr-step-epochs) or cosine")
        ->capture_default_str()
        ->check(CLI::IsMember({"constant", "step", "cosine"}));
    train_cmd->add_option("--lr-step-epochs", c.lr_step_epochs, "Epochs between steps of the step schedule")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    train_cmd->add_option("--lr-gamma", c.lr_gamma, "Factor of the step schedule (0.96: the paper's 4%)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    train_cmd->add_option("--warmup-epochs", c.warmup_epochs, "Linear warm-up of the learning rate over this many epochs")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    train_cmd->add_option("--log-every", c.log_every, "Steps between progress lines (when not a terminal) and metrics records")
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 30));
    train_cmd->add_option("--checkpoint-every", c.checkpoint_every, "Steps between mid-epoch checkpoints (0: at epoch ends only)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    bool quiet = false;
    train_cmd->add_flag("--quiet", quiet, "No per-step progress; epoch lines only");
    double comm_timeout = 300;
    train_cmd->add_option("--comm-timeout", comm_timeout,
                          "Under mpirun: seconds without an answer from the other ranks before the job is ended (0: never)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    std::string resume_dir;
    train_cmd->add_option("--resume", resume_dir, "Continue the run in this folder from its checkpoint, with its settings: "
                                                  "other flags must repeat the run's values, but for --epochs, --threads, "
                                                  "--log-every, --checkpoint-every, --quiet and --comm-timeout (the same "
                                                  "weights as an uninterrupted run unless --threads changes, or --epochs "
                                                  "under a cosine schedule)")
        ->check(CLI::ExistingDirectory);

    std::string weights, eval_out;
    CLI::App* eval_cmd = app.add_subcommand(
        "eval", "Test loss, accuracy, per-class accuracy and the confusion matrix of a weights file");
    add_data_options(eval_cmd, c);
    eval_cmd->add_option("--weights", weights, "Weights file (safetensors, PyTorch state_dict names)")->required();
    eval_cmd->add_option("--val-folder", c.val_folder,
                         "Evaluate on this image folder (one sub-folder per class) instead of Fashion-MNIST's test set")
        ->check(CLI::ExistingDirectory);
    eval_cmd->add_option("--out", eval_out, "Folder for confusion.png, .svg and .csv (default: the weights file's folder)")
        ->check(CLI::ExistingDirectory);

    std::string plot_dir;
    CLI::App* plot_cmd = app.add_subcommand("plot", "Draw a run's curves.png and curves.svg from its metrics.jsonl");
    plot_cmd->add_option("run", plot_dir, "The run's output folder (train --out)")->required()->check(CLI::ExistingDirectory);

    BenchConfig bc;
    bool bench_json = false;
    CLI::App* bench_cmd = app.add_subcommand("bench", "Time the training step or inference on random data");
    bench_cmd->add_option("--mode", bc.mode, "train (forward, backward, update) or infer (forward)")
        ->capture_default_str()
        ->check(CLI::IsMember({"train", "infer"}));
    bench_cmd->add_option("--batch-size", bc.batch_size, "Images per batch")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    bench_cmd->add_option("--model", bc.model, "A built-in model (" + join(builtin_models()) + ") or a model file")
        ->capture_default_str();
    bench_cmd->add_option("--size", bc.size, "Input height and width (0: the model's)")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));
    bench_cmd->add_option("--threads", bc.threads, "Compute threads (0: every core)")->capture_default_str()->check(CLI::NonNegativeNumber);
    bench_cmd->add_option("--parallel", bc.parallel, kParallelHelp)->capture_default_str()->check(CLI::IsMember({"batch", "ops"}));
    bench_cmd->add_option("--warmup", bc.warmup, "Untimed iterations first")->capture_default_str()->check(CLI::NonNegativeNumber);
    bench_cmd->add_option("--iters", bc.iters, "Timed iterations")->capture_default_str()->check(CLI::Range(1, 1000000));
    bench_cmd->add_flag("--json", bench_json, "Also print the figures as one JSON object on the last line");
    bench_cmd->add_flag("--profile", bc.profile,
                        "Also time every op (forward, backward-data, backward-weights) and print them with the kernels "
                        "each pass runs, and totals by kind of op");

    cli::PredictOptions po;
    CLI::App* predict_cmd = app.add_subcommand("predict", "Top classes of PNG or JPEG images");
    predict_cmd->add_option("--weights", po.weights, "Weights file (safetensors)")->required()->check(CLI::ExistingFile);
    predict_cmd->add_option("images", po.images, "PNG or JPEG files, prepared as in training (grey models: as Fashion-MNIST; RGB models: resize, centre crop, ImageNet normalisation)");
    predict_cmd->add_option("--tensor", po.tensor, "Instead of images: a safetensors file holding \"input\", N x C x H x W, already prepared")
        ->check(CLI::ExistingFile);
    predict_cmd->add_option("--top", po.top, "How many classes to list per image")->capture_default_str()->check(CLI::Range(1, 1000000));
    predict_cmd->add_option("--labels", po.labels, "Class names, one per line (default: Fashion-MNIST's for a grey 10-class model)")
        ->check(CLI::ExistingFile);
    predict_cmd->add_option("--model", po.model, "A built-in model (" + join(builtin_models()) + ") or a model file")
        ->capture_default_str();
    predict_cmd->add_option("--resize", po.resize, "The input size, as in training (0: the model's)")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));
    predict_cmd->add_option("--batch-size", po.batch_size, "Images per forward pass")->capture_default_str()->check(CLI::Range(1, 4096));
    predict_cmd->add_option("--threads", po.threads, "Compute threads (0: every core)")->capture_default_str()->check(CLI::NonNegativeNumber);
    predict_cmd->add_option("--parallel", po.parallel, kParallelHelp)->capture_default_str()->check(CLI::IsMember({"batch", "ops"}));
    predict_cmd->add_flag("--json", po.json, "One JSON object per image: path and top classes, or path and error");
    predict_cmd->add_flag("--logits", po.logits, "With --json: every class's logit too");

    std::string export_weights, export_model = "d2l", export_out;
    int export_size = 0;
    CLI::App* export_cmd = app.add_subcommand("export", "Write a trained network as an ONNX model, for other runtimes");
    export_cmd->add_option("--weights", export_weights, "Weights file (safetensors)")->required()->check(CLI::ExistingFile);
    export_cmd->add_option("--model", export_model, "A built-in model (" + join(builtin_models()) + ") or a model file")
        ->capture_default_str();
    export_cmd->add_option("--size", export_size, "Input height and width the graph takes (0: the model's)")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));
    export_cmd->add_option("--onnx", export_out, "The ONNX file to write (opset 13, any batch size)")->required();

    std::string import_in, import_out, import_model_out, import_name;
    int import_size = 0;
    CLI::App* import_cmd = app.add_subcommand("import", "Turn an ONNX GoogLeNet-family graph into a model file and a weights file");
    import_cmd->add_option("--onnx", import_in, "The ONNX file to read")->required()->check(CLI::ExistingFile);
    import_cmd->add_option("--out", import_out, "The weights file to write (safetensors)")->required();
    import_cmd->add_option("--model-out", import_model_out, "The model file to write (default: --out with .json for .safetensors)");
    import_cmd->add_option("--name", import_name, "The model's name (default: the ONNX file's name without .onnx)");
    import_cmd->add_option("--size", import_size, "Input height and width, where the graph's is not fixed (0: the graph's)")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));

    int summary_size = 0;
    std::string summary_model = "d2l";
    CLI::App* summary_cmd = app.add_subcommand("summary", "Each layer's output shape, parameters and multiply-adds");
    summary_cmd->add_option("--model", summary_model, "A built-in model (" + join(builtin_models()) + ") or a model file")
        ->capture_default_str();
    summary_cmd->add_option("--size", summary_size, "Input height and width (0: the model's)")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    c.shuffle = !no_shuffle;
    c.skip_bad_images = bad_images == "skip";
    note_thread_limit(bench_cmd->parsed() ? bc.threads : predict_cmd->parsed() ? po.threads : c.threads);
    try {
        if (train_cmd->parsed()) {
            const ResumeChanges changes = resume_dir.empty() ? ResumeChanges{} : resume_changes(*train_cmd, c, resume_dir);
            Communicator::world().set_timeout(comm_timeout);
            return run_train(c, resume_dir, changes, quiet);
        }
        if (eval_cmd->parsed()) return run_eval(c, weights, eval_out);
        if (plot_cmd->parsed()) {
            draw_line_chart(training_curves(plot_dir + "/metrics.jsonl"), plot_dir + "/curves");
            std::printf("written: %s/curves.png, %s/curves.svg\n", plot_dir.c_str(), plot_dir.c_str());
            return 0;
        }
        if (bench_cmd->parsed()) return run_bench(bc, bench_json);
        if (predict_cmd->parsed()) return cli::run_predict(po);
        if (import_cmd->parsed()) return cli::run_import(import_in, import_out, import_model_out, import_name, import_size);
        if (export_cmd->parsed()) return cli::run_export(export_weights, export_model, export_size, export_out);
        if (summary_cmd->parsed()) {
            const ModelSpec spec = load_model(summary_model);
            std::printf("%s (%s)%s%s\n", spec.name.c_str(), spec.source.c_str(), spec.description.empty() ? "" : ": ",
                        spec.description.c_str());
            std::fputs(build_net(spec, summary_size).summary().c_str(), stdout);
            return 0;
        }
    } catch (const Error& e) {
        // Under mpirun the other ranks may be waiting for this one: end the whole job.
        if (Communicator::world().distributed()) Communicator::world().abort(std::string("error: ") + e.what(), 1);
        std::fflush(stdout);
        std::fprintf(stderr, "googlenet: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        if (Communicator::world().distributed()) Communicator::world().abort(std::string("internal error: ") + e.what(), 2);
        std::fflush(stdout);
        std::fprintf(stderr, "googlenet: internal error: %s\n", e.what());
        return 2;
    }
    return 0;
}
