// Trains D2L's GoogLeNet for a few steps on Fashion-MNIST and saves its weights: the library's
// training loop in its smallest form (googlenet train adds schedules, checkpoints and logs).
//   train_steps OUT.safetensors [STEPS] [DATA_DIR]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "googlenet/data.h"
#include "googlenet/io.h"
#include "googlenet/models.h"
#include "googlenet/train.h"

int main(int argc, char** argv) try {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s OUT.safetensors [STEPS] [DATA_DIR]\n", argv[0]);
        return 2;
    }
    const int steps = argc > 2 ? std::atoi(argv[2]) : 5, batch = 32;
    const std::string data_dir = argc > 3 ? argv[3] : googlenet::kFashionMnistDir;

    const googlenet::ModelSpec spec = googlenet::load_model("d2l");
    googlenet::Net net = googlenet::build_net(spec);
    googlenet::init_params(net.params(), /*seed=*/1);
    googlenet::Options options;
    options.parallel = googlenet::Parallel::batch;  // each thread its own share of the batch
    net.set_options(options);
    googlenet::Sgd sgd(net.params(), googlenet::SgdOptions{});  // lr 0.1, as D2L

    const googlenet::ImageSet train = googlenet::load_fashion_mnist(data_dir, "train", steps * batch);
    googlenet::BatchLoader loader(train, batch, spec.input_size, /*shuffle=*/true, /*seed=*/1);
    loader.start_epoch(0);
    googlenet::Batch b;
    for (int step = 1; step <= steps && loader.next(b); ++step) {
        net.set_batch(b.size);
        net.forward(b.images.data());
        const float loss = net.loss(b.labels.data());
        net.backward();
        sgd.step();
        std::printf("step %d: loss %.4f\n", step, loss);
    }
    googlenet::save_weights(argv[1], net.params(), spec.text);  // the file keeps its model
    std::printf("saved %s\n", argv[1]);
    return 0;
} catch (const googlenet::Error& e) {
    std::fprintf(stderr, "train_steps: %s\n", e.what());
    return 1;
}
