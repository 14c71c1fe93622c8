// Loads a weights file (with the model it keeps) and prints the top classes of a PNG or JPEG
// image, as `googlenet predict` does for grey Fashion-MNIST models.
//   classify WEIGHTS.safetensors IMAGE
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

#include "googlenet/data.h"
#include "googlenet/image.h"
#include "googlenet/models.h"

int main(int argc, char** argv) try {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s WEIGHTS.safetensors IMAGE\n", argv[0]);
        return 2;
    }
    // The model the weights file names (or D2L's for a file that names none).
    const googlenet::ModelSpec spec = googlenet::model_for_weights(argv[1], "");
    if (spec.in_channels != 1 || spec.classes != 10) {
        std::fprintf(stderr, "classify: %s holds model '%s'; this example reads grey Fashion-MNIST models\n", argv[1],
                     spec.name.c_str());
        return 1;
    }
    googlenet::Net net = googlenet::build_net(spec);
    net.set_training(false);
    googlenet::load_weights(argv[1], net);
    const std::vector<float> input = googlenet::prepare_fashion_mnist_input(googlenet::read_image(argv[2]), spec.input_size);
    net.set_batch(1);
    const float* logits = net.forward(input.data());

    std::vector<double> p(10);
    const float top = *std::max_element(logits, logits + 10);
    for (int c = 0; c < 10; ++c) p[size_t(c)] = std::exp(double(logits[c] - top));
    const double sum = std::accumulate(p.begin(), p.end(), 0.0);
    std::vector<int> order(10);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return p[size_t(a)] > p[size_t(b)]; });
    for (int i = 0; i < 3; ++i)
        std::printf("%-12s %.3f\n", googlenet::kFashionMnistClasses[order[size_t(i)]], p[size_t(order[size_t(i)])] / sum);
    return 0;
} catch (const googlenet::Error& e) {
    std::fprintf(stderr, "classify: %s\n", e.what());
    return 1;
}
