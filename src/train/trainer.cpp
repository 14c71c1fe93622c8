#include "googlenet/trainer.h"

#include <omp.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "googlenet/io.h"
#include "googlenet/models.h"
#include "googlenet/train.h"

namespace googlenet {

namespace {

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
}

void write_config(const TrainConfig& c, const std::string& path) {
    nlohmann::json j = {{"model", "d2l"},          {"epochs", c.epochs},       {"batch_size", c.batch_size},
                        {"lr", c.lr},              {"momentum", c.momentum},   {"weight_decay", c.weight_decay},
                        {"nesterov", c.nesterov},  {"resize", c.resize},       {"threads", c.threads},
                        {"seed", c.seed},          {"data_dir", c.data_dir},   {"train_limit", c.train_limit},
                        {"test_limit", c.test_limit}, {"init", c.init_weights}, {"shuffle", c.shuffle}};
    const std::string text = j.dump(2) + "\n";
    write_file_atomic(path, [&](std::FILE* f) { std::fwrite(text.data(), 1, text.size(), f); });
}

}  // namespace

int resolve_threads(int threads) { return threads > 0 ? threads : omp_get_num_procs(); }

EvalResult evaluate(Net& net, const ImageSet& set, int batch_size, int resize) {
    BatchLoader loader(set, batch_size, resize, false, 0);
    loader.start_epoch(0);
    Batch b;
    EvalResult r;
    double loss_sum = 0;
    int hits = 0;
    while (loader.next(b)) {
        net.set_batch(b.size);
        const float* logits = net.forward(b.images.data());
        loss_sum += double(net.loss(b.labels.data())) * b.size;
        hits += correct(logits, b.labels.data(), b.size, net.classes());
        r.count += b.size;
    }
    r.loss = loss_sum / r.count;
    r.accuracy = double(hits) / r.count;
    return r;
}

std::vector<EpochStats> train(const TrainConfig& c, const std::function<void(const EpochStats&)>& on_epoch) {
    if (c.epochs < 1) throw Error("--epochs must be at least 1");
    if (c.batch_size < 1) throw Error("--batch-size must be at least 1");
    if (!(c.lr > 0) || !std::isfinite(c.lr)) throw Error("--lr must be a positive number");
    if (c.resize < 1) throw Error("--resize must be at least 1");
    const ImageSet train_set = load_fashion_mnist(c.data_dir, "train", c.train_limit);
    const ImageSet test_set = load_fashion_mnist(c.data_dir, "test", c.test_limit);

    Net net = d2l_googlenet(1, 10, c.resize);
    net.set_threads(resolve_threads(c.threads));
    if (c.init_weights.empty())
        init_params(net.params(), c.seed);
    else
        load_weights(c.init_weights, net.params());
    make_dir(c.out_dir);
    write_config(c, c.out_dir + "/config.json");
    const std::string weights_path = c.out_dir + "/model.safetensors";

    Sgd sgd(net.params(), SgdOptions{c.lr, c.momentum, c.weight_decay, c.nesterov});
    BatchLoader loader(train_set, c.batch_size, c.resize, c.shuffle, c.seed);
    // The weights before the latest update: if that update makes the loss non-finite, these are
    // the last weights known to give a finite loss, and they are what gets saved.
    Buffer last_good(net.params().total());
    std::vector<EpochStats> history;
    const auto start = std::chrono::steady_clock::now();
    long step = 0;
    for (int epoch = 1; epoch <= c.epochs; ++epoch) {
        const auto epoch_start = std::chrono::steady_clock::now();
        loader.start_epoch(epoch);
        Batch b;
        double loss_sum = 0;
        long hits = 0, seen = 0;
        for (int batch = 1; loader.next(b); ++batch, ++step) {
            net.set_batch(b.size);
            const float* logits = net.forward(b.images.data());
            const float loss = net.loss(b.labels.data());
            if (!std::isfinite(loss)) {
                const char* what = std::isnan(loss) ? "nan" : loss > 0 ? "inf" : "-inf";
                if (step == 0)
                    throw Error(fmt::format("loss is {} at the first step: the initial weights give a non-finite "
                                            "loss; nothing was written",
                                            what));
                std::memcpy(net.params().values().data(), last_good.data(), last_good.size() * sizeof(float));
                save_weights(weights_path, net.params());
                throw Error(fmt::format("loss is {} at epoch {}, batch {} (step {}): training stopped; the last "
                                        "weights with a finite loss are in {}",
                                        what, epoch, batch, step + 1, weights_path));
            }
            loss_sum += double(loss) * b.size;
            hits += correct(logits, b.labels.data(), b.size, net.classes());
            seen += b.size;
            net.backward();
            std::memcpy(last_good.data(), net.params().values().data(), last_good.size() * sizeof(float));
            sgd.step();
        }
        const double train_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
        EpochStats s;
        s.epoch = epoch;
        s.loss = loss_sum / double(seen);
        s.train_acc = double(hits) / double(seen);
        s.images_per_sec = double(seen) / train_seconds;
        s.test_acc = evaluate(net, test_set, c.batch_size, c.resize).accuracy;
        s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        save_weights(weights_path, net.params());
        history.push_back(s);
        if (on_epoch) on_epoch(s);
    }
    return history;
}

}  // namespace googlenet
