// The googlenet command: a thin layer over the library.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fmt/format.h>

#include "googlenet/bench.h"
#include "googlenet/io.h"
#include "googlenet/models.h"
#include "googlenet/trainer.h"

using namespace googlenet;

namespace {

void add_data_options(CLI::App* cmd, TrainConfig& c) {
    cmd->add_option("--data-dir", c.data_dir, "Folder with Fashion-MNIST's IDX files (*-idx?-ubyte.gz)")
        ->capture_default_str();
    cmd->add_option("--resize", c.resize, "Resize the 28x28 images to this size (PIL bilinear)")
        ->capture_default_str()
        ->check(CLI::Range(1, 4096));
    cmd->add_option("--batch-size", c.batch_size, "Images per batch")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--test-limit", c.test_limit, "Use only the first N test images (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--threads", c.threads, "Compute threads (0: every core)")->capture_default_str()->check(CLI::NonNegativeNumber);
}

int run_train(const TrainConfig& c) {
    std::printf("training D2L GoogLeNet on Fashion-MNIST: %d epochs, batch %d, lr %g, momentum %g, weight decay %g%s, "
                "%dx%d, %d threads, seed %llu\n",
                c.epochs, c.batch_size, double(c.lr), double(c.momentum), double(c.weight_decay),
                c.nesterov ? " (nesterov)" : "", c.resize, c.resize, resolve_threads(c.threads),
                static_cast<unsigned long long>(c.seed));
    std::fflush(stdout);
    const auto history = train(c, [](const EpochStats& s) {
        std::printf("epoch %d: loss %.4f, train acc %.4f, test acc %.4f, %.1f img/s, %.1f s\n", s.epoch, s.loss,
                    s.train_acc, s.test_acc, s.images_per_sec, s.seconds);
        std::fflush(stdout);
    });
    const EpochStats& last = history.back();
    std::printf("loss %.3f, train acc %.3f, test acc %.3f\n", last.loss, last.train_acc, last.test_acc);
    std::printf("%.1f examples/sec on cpu\n", last.images_per_sec);
    std::printf("weights: %s/model.safetensors\n", c.out_dir.c_str());
    return 0;
}

int run_eval(const TrainConfig& c, const std::string& weights) {
    const ImageSet test_set = load_fashion_mnist(c.data_dir, "test", c.test_limit);
    Net net = d2l_googlenet(1, 10, c.resize);
    net.set_threads(resolve_threads(c.threads));
    load_weights(weights, net.params());
    const EvalResult r = evaluate(net, test_set, c.batch_size, c.resize);
    std::printf("test loss %.4f, test acc %.4f (%d images)\n", r.loss, r.accuracy, r.count);
    return 0;
}

int run_bench(const BenchConfig& c, bool json) {
    const BenchResult r = benchmark(c);
    std::printf("bench %s: d2l googlenet, batch %d, %dx%d, %d threads, %d warm-up + %d timed iterations\n",
                c.mode.c_str(), c.batch_size, c.size, c.size, r.threads, c.warmup, c.iters);
    std::printf("%.1f img/s, %.1f ms/iter (median; best %.1f), %.1f GFLOP/s, peak RSS %.0f MiB\n", r.images_per_sec,
                r.ms_per_iter, r.ms_best, r.gflops, r.peak_rss_mib);
    if (json)
        std::printf("%s\n", fmt::format(R"({{"mode": "{}", "model": "d2l", "batch_size": {}, "size": {}, "threads": {}, )"
                                         R"("warmup": {}, "iters": {}, "images_per_sec": {:.3f}, "ms_per_iter": {:.3f}, )"
                                         R"("ms_best": {:.3f}, "gflops": {:.3f}, "peak_rss_mib": {:.1f}, "macs_per_image": {}}})",
                                         c.mode, c.batch_size, c.size, r.threads, c.warmup, c.iters, r.images_per_sec,
                                         r.ms_per_iter, r.ms_best, r.gflops, r.peak_rss_mib, r.macs_per_image)
                                 .c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"GoogLeNet (Inception v1) on oneDNN: train and evaluate D2L's network on Fashion-MNIST"};
    app.set_version_flag("--version", "googlenet 0.1.0");
    app.require_subcommand(1);

    TrainConfig c;
    CLI::App* train_cmd = app.add_subcommand("train", "Train D2L's GoogLeNet (defaults are D2L's settings)");
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
    bool no_shuffle = false;
    train_cmd->add_flag("--no-shuffle", no_shuffle, "Keep the training set's order in every epoch");
    train_cmd->add_option("--out", c.out_dir, "Output folder for model.safetensors and config.json")->capture_default_str();

    std::string weights;
    CLI::App* eval_cmd = app.add_subcommand("eval", "Print test loss and accuracy of a weights file");
    add_data_options(eval_cmd, c);
    eval_cmd->add_option("--weights", weights, "Weights file (safetensors, PyTorch state_dict names)")->required();

    BenchConfig bc;
    bool bench_json = false;
    CLI::App* bench_cmd = app.add_subcommand("bench", "Time the training step or inference on random data");
    bench_cmd->add_option("--mode", bc.mode, "train (forward, backward, update) or infer (forward)")
        ->capture_default_str()
        ->check(CLI::IsMember({"train", "infer"}));
    bench_cmd->add_option("--batch-size", bc.batch_size, "Images per batch")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    bench_cmd->add_option("--size", bc.size, "Input height and width")->capture_default_str()->check(CLI::Range(1, 4096));
    bench_cmd->add_option("--threads", bc.threads, "Compute threads (0: every core)")->capture_default_str()->check(CLI::NonNegativeNumber);
    bench_cmd->add_option("--warmup", bc.warmup, "Untimed iterations first")->capture_default_str()->check(CLI::NonNegativeNumber);
    bench_cmd->add_option("--iters", bc.iters, "Timed iterations")->capture_default_str()->check(CLI::Range(1, 1000000));
    bench_cmd->add_flag("--json", bench_json, "Also print the figures as one JSON object on the last line");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    c.shuffle = !no_shuffle;
    try {
        if (train_cmd->parsed()) return run_train(c);
        if (eval_cmd->parsed()) return run_eval(c, weights);
        if (bench_cmd->parsed()) return run_bench(bc, bench_json);
    } catch (const Error& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "googlenet: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "googlenet: internal error: %s\n", e.what());
        return 2;
    }
    return 0;
}
