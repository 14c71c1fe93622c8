// googlenet train: flags, progress on stderr, epoch lines (or JSON Lines) on stdout, resuming.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <fmt/format.h>

#include "cli/cli.h"
#include "googlenet/distributed.h"
#include "googlenet/plot.h"
#include "googlenet/trainer.h"

namespace googlenet::cli {
namespace {

struct TrainOptions {
    TrainConfig config;
    std::string bad_images = "skip", resume_dir, progress = "auto";
    bool no_shuffle = false, quiet = false, json = false, dump_config = false;
    double comm_timeout = 300;
};

// Per-step progress on stderr: a live bar (`bar`), a line every --log-every steps (`plain`) or
// nothing (`none`); `auto` draws the bar when stderr is a terminal. Epoch lines, and the notes at
// the start, go where the command's text goes (stdout, or stderr under --json).
class Progress : public TrainObserver {
public:
    Progress(const Output& out, const std::string& mode) : out_(out) {
        // Under mpirun a rank's stderr is a pseudo-terminal even when mpirun's own output goes
        // to a log file, so a data-parallel run draws no bar unless asked.
        const bool terminal = ::isatty(::fileno(stderr)) && !Communicator::world().distributed();
        mode_ = mode == "auto" ? (terminal ? "bar" : "plain") : mode;
    }

    void on_start(const TrainConfig& c, int batches, int epoch, int batch) override {
        epochs_ = c.epochs;
        log_every_ = c.log_every;
        std::FILE* f = out_.text();
        std::fprintf(f, "training %s on %s: %d epochs of %d batches, batch %d, lr %g (%s), momentum %g, "
                        "weight decay %g%s, %dx%d, %d threads (parallel: %s), seed %llu\n",
                     c.model.c_str(), c.train_folder.empty() ? "Fashion-MNIST" : c.train_folder.c_str(), c.epochs, batches,
                     c.batch_size, double(c.lr), c.lr_schedule.c_str(), double(c.momentum), double(c.weight_decay),
                     c.nesterov ? " (nesterov)" : "", c.resize, c.resize, resolve_threads(c.engine.threads), to_string(c.engine.parallel).c_str(),
                     static_cast<unsigned long long>(c.seed));
        if (epoch > 1 || batch > 0) std::fprintf(f, "resuming at epoch %d, batch %d\n", epoch, batch + 1);
        std::fflush(f);
    }

    void on_step(const StepStats& s) override {
        if (mode_ == "bar") {
            const auto now = std::chrono::steady_clock::now();
            if (s.batch != s.batches && now - last_draw_ < std::chrono::milliseconds(200)) return;
            last_draw_ = now;
            const int width = 30, filled = width * s.batch / s.batches;
            std::fprintf(stderr, "\r\033[Kepoch %d/%d [%s%s] %d/%d  loss %.4f  acc %.4f  %.1f img/s  ETA %s", s.epoch,
                         epochs_, std::string(size_t(filled), '#').c_str(), std::string(size_t(width - filled), '.').c_str(),
                         s.batch, s.batches, s.epoch_loss, s.epoch_acc, s.images_per_sec, duration(s.epoch_eta).c_str());
            std::fflush(stderr);
        } else if (mode_ == "plain" && s.step % log_every_ == 0) {
            std::fprintf(stderr, "epoch %d/%d batch %d/%d: loss %.4f, train acc %.4f, lr %.4g, %.1f img/s, %.1f s\n",
                         s.epoch, epochs_, s.batch, s.batches, s.epoch_loss, s.epoch_acc, s.lr, s.images_per_sec, s.seconds);
            std::fflush(stderr);
        }
    }

    void on_epoch(const EpochStats& s) override {
        if (mode_ == "bar") std::fprintf(stderr, "\r\033[K");
        std::fflush(stderr);
        std::FILE* f = out_.text();
        std::fprintf(f, "epoch %d: loss %.4f, train acc %.4f, test acc %.4f, %.1f img/s, %.1f s%s\n", s.epoch, s.loss,
                     s.train_acc, s.test_acc, s.images_per_sec, s.seconds,
                     ranks_ > 1 ? fmt::format(", {:.2f} s waiting for allreduce", s.comm_wait_seconds).c_str() : "");
        std::fflush(f);
        if (out_.json) out_.emit(nlohmann::ordered_json::parse(epoch_record(s)));
    }

    void on_distributed(const DistributedInfo& d) override {
        ranks_ = d.ranks;
        std::fprintf(out_.text(), "data-parallel over %d ranks: gradients %.1f MiB in %d buckets, reduced while backward runs; "
                                  "one blocking allreduce of them takes %.1f ms\n",
                     d.ranks, d.gradient_mib, d.buckets, d.allreduce_seconds * 1e3);
        std::fflush(out_.text());
    }

private:
    static std::string duration(double seconds) {
        const long t = long(seconds);
        return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60) : fmt::format("{}:{:02}", t / 60, t % 60);
    }

    const Output& out_;
    std::string mode_;
    int epochs_ = 0, log_every_ = 50, ranks_ = 1;
    std::chrono::steady_clock::time_point last_draw_{};
};

// `train --resume DIR` with other flags: those that may change are taken (ResumeChanges); any other
// is accepted when it repeats the run's own value, so that the command that started a run, with
// --resume added, continues it; one that differs is refused, naming it.
ResumeChanges resume_changes(const CLI::App& cmd, const TrainConfig& given, const std::string& dir) {
    static const std::set<std::string> may_change = {"--resume", "--epochs", "--threads", "--quiet", "--comm-timeout",
                                                     "--log-every", "--checkpoint-every", "--progress", "--json", "--config"};
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
                                    "--checkpoint-every, --comm-timeout and what is printed (--quiet, --progress, --json) "
                                    "may change ({})",
                                    diffs.size() == 1 ? "this setting differs from the run's" : "these settings differ from the run's",
                                    what));
        }
    }
    auto given_flag = [&](const char* name) { return cmd.get_option(name)->count() > 0; };
    if (given_flag("--epochs")) changes.epochs = given.epochs;
    if (given_flag("--threads")) changes.threads = given.engine.threads;
    if (given_flag("--log-every")) changes.log_every = given.log_every;
    if (given_flag("--checkpoint-every")) changes.checkpoint_every = given.checkpoint_every;
    return changes;
}

int run_train(const CLI::App& cmd, TrainOptions& o) {
    TrainConfig& c = o.config;
    c.shuffle = !o.no_shuffle;
    c.skip_bad_images = o.bad_images == "skip";
    if (o.dump_config) {
        std::fputs(config_json(c).c_str(), stdout);
        return kSuccess;
    }
    if (o.quiet && cmd.get_option("--progress")->count() > 0 && o.progress != "none")
        throw UsageError("--quiet is --progress none; it cannot be combined with --progress " + o.progress);
    note_thread_limit(c.engine.threads);
    settle_precision(c.engine);
    const ResumeChanges changes = o.resume_dir.empty() ? ResumeChanges{} : resume_changes(cmd, c, o.resume_dir);
    Communicator::world().set_timeout(o.comm_timeout);
    const Output out{o.json};
    Progress progress(out, o.quiet ? "none" : o.progress);
    const bool root = Communicator::world().root();  // under mpirun, rank 0 alone prints
    if (root && o.json) {
        TrainConfig shown = o.resume_dir.empty() ? c : run_settings(o.resume_dir);
        out.emit({{"type", "start"}, {"googlenet", about_json()}, {"resume", !o.resume_dir.empty()},
                  {"config", nlohmann::ordered_json::parse(config_json(shown))}});
    }
    std::vector<EpochStats> history;
    training_takes_stop_signals(true);
    try {
        history = o.resume_dir.empty() ? train(c, &progress) : resume(o.resume_dir, changes, &progress);
    } catch (const Interrupted& e) {
        std::fflush(stdout);
        if (root) std::fprintf(stderr, "googlenet: %s\n", e.what());
        return kSignalled + stop_signal();
    }
    if (!root) return kSuccess;
    const EpochStats& last = history.back();
    const std::string dir = o.resume_dir.empty() ? c.out_dir : o.resume_dir;
    std::FILE* f = out.text();
    std::fprintf(f, "loss %.3f, train acc %.3f, test acc %.3f\n", last.loss, last.train_acc, last.test_acc);
    std::fprintf(f, "%.1f examples/sec on cpu\n", last.images_per_sec);
    std::fprintf(f, "weights: %s/model.safetensors\n", dir.c_str());
    if (o.json)
        out.emit({{"type", "summary"}, {"googlenet", about_json()}, {"epochs", last.epoch}, {"steps", last.step},
                  {"train_loss", last.loss}, {"train_acc", last.train_acc}, {"test_loss", last.test_loss},
                  {"test_acc", last.test_acc}, {"img_per_sec", last.images_per_sec}, {"wall_time", last.seconds},
                  {"out_dir", dir}, {"weights", dir + "/model.safetensors"}});
    return kSuccess;
}

}  // namespace

Command add_train(CLI::App& app) {
    auto o = std::make_shared<TrainOptions>();
    TrainConfig& c = o->config;
    CLI::App* cmd = app.add_subcommand("train", "Train a network (defaults: D2L's GoogLeNet and settings on Fashion-MNIST)");
    add_model_option(cmd, c.model, "d2l")->capture_default_str();
    cmd->add_option("-e,--epochs", c.epochs, "Passes over the training set")->capture_default_str()->check(CLI::Range(1, 1000000));
    cmd->add_option("-b,--batch-size", c.batch_size, "Images per batch (the global batch under mpirun)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--lr", c.lr, "SGD learning rate")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str()->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--weight-decay", c.weight_decay, "L2 penalty added to every gradient")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("--nesterov", c.nesterov, "Nesterov momentum");
    cmd->add_option("--lr-schedule", c.lr_schedule, "constant, step (x gamma every --lr-step-epochs) or cosine")
        ->capture_default_str()
        ->check(CLI::IsMember({"constant", "step", "cosine"}));
    cmd->add_option("--lr-step-epochs", c.lr_step_epochs, "Epochs between steps of the step schedule")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--lr-gamma", c.lr_gamma, "Factor of the step schedule (0.96: the paper's 4%)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--warmup-epochs", c.warmup_epochs, "Linear warm-up of the learning rate over this many epochs")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--resize", c.resize, "Resize the 28x28 images to this size (PIL bilinear; 0: the model's input size)")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));
    add_engine_options(cmd, c.engine);
    cmd->add_option("--seed", c.seed, "Seed for the initial weights and the shuffling")->capture_default_str();
    cmd->add_option("--data-dir", c.data_dir, "Folder with Fashion-MNIST's IDX files (*-idx?-ubyte.gz)")->capture_default_str();
    cmd->add_option("--train-limit", c.train_limit, "Use only the first N training images (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--test-limit", c.test_limit, "Use only the first N test images (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--init", c.init_weights, "Start from this weights file (safetensors) instead of a fresh init")
        ->check(CLI::ExistingFile);
    cmd->add_flag("--no-shuffle", o->no_shuffle, "Keep the training set's order in every epoch");
    cmd->add_option("--train-folder", c.train_folder,
                    "Train on this image folder (one sub-folder of PNG/JPEG files per class) instead of Fashion-MNIST")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--val-folder", c.val_folder, "With --train-folder: the image folder to measure test accuracy on")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("-j,--data-threads", c.data_threads, "Threads decoding image-folder images ahead of compute")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    cmd->add_option("--bad-images", o->bad_images, "An unreadable image in a folder: skip (reported, left out) or fail")
        ->capture_default_str()
        ->check(CLI::IsMember({"skip", "fail"}));
    cmd->add_option("-o,--out", c.out_dir, "Output folder: model.safetensors, checkpoint.safetensors, config.json, metrics.jsonl")
        ->capture_default_str();
    cmd->add_option("--log-every", c.log_every, "Steps between plain progress lines and metrics records")
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 30));
    cmd->add_option("--checkpoint-every", c.checkpoint_every, "Steps between mid-epoch checkpoints (0: at epoch ends only)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--progress", o->progress,
                    "Per-step progress on stderr: a live bar, a plain line every --log-every steps, or none; auto: the bar "
                    "when stderr is a terminal, else plain")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "bar", "plain", "none"}));
    cmd->add_flag("--quiet", o->quiet, "No per-step progress (--progress none); epoch lines only");
    add_json_flag(cmd, o->json, "JSON Lines", "a start record with the settings and the build, a record per epoch, a summary");
    cmd->add_option("--comm-timeout", o->comm_timeout,
                    "Under mpirun: seconds without an answer from the other ranks before the job is ended (0: never)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--resume", o->resume_dir, "Continue the run in this folder from its checkpoint, with its settings: "
                                               "other flags must repeat the run's values, but for --epochs, --threads, "
                                               "--log-every, --checkpoint-every, --comm-timeout and the output flags (the same "
                                               "weights as an uninterrupted run unless --threads changes, or --epochs "
                                               "under a cosine schedule)")
        ->check(CLI::ExistingDirectory);
    add_config_options(cmd, o->dump_config);
    return {cmd, [cmd, o] { return run_train(*cmd, *o); }};
}

Command add_plot(CLI::App& app) {
    auto dir = std::make_shared<std::string>();
    CLI::App* cmd = app.add_subcommand("plot", "Draw a run's curves.png and curves.svg from its metrics.jsonl");
    cmd->add_option("run", *dir, "The run's output folder (train --out)")->required()->check(CLI::ExistingDirectory);
    return {cmd, [dir] {
                draw_line_chart(training_curves(*dir + "/metrics.jsonl", run_title(*dir)), *dir + "/curves");
                std::printf("written: %s/curves.png, %s/curves.svg\n", dir->c_str(), dir->c_str());
                return int(kSuccess);
            }};
}

}  // namespace googlenet::cli
