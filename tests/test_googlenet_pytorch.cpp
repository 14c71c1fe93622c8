// D2L's whole GoogLeNet against PyTorch (fixtures/googlenet.safetensors, batch 4 at 96x96):
// logits, loss, every parameter's gradient, and the losses of 10 SGD steps. PyTorch computes the
// fixture in float64 from the same float32 weights and input; measured here, our float32 gradients
// are within 1e-6 of it, while PyTorch's own float32 ones are off by up to 1.3e-2 (in b1-b3, where
// near-zero pre-activations flip ReLU's mask), so a float32 fixture could not hold 1e-3.
// Tolerances (max |diff| / max |expected| per tensor, see testing.h): logits 1e-4, gradients 1e-3,
// loss 1e-5 relative, SGD losses 1e-3 relative.
#include <algorithm>
#include <cstdio>

#include "googlenet/models.h"
#include "googlenet/train.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {

const Fixture& fixture() {
    static Fixture f("googlenet.safetensors");
    return f;
}

Net net_from_fixture() {
    Net net = d2l_googlenet();
    load_params_from(fixture(), net.params());
    net.set_batch(4);
    return net;
}

std::vector<int> labels() { return labels_from(fixture()); }

}  // namespace

TEST(GoogLeNetVsPyTorch, LogitsLossAndEveryGradient) {
    Net net = net_from_fixture();
    const float* logits = net.forward(fixture()["input"].data());
    EXPECT_TENSOR_NEAR(logits, fixture()["logits"].data(), 40, 1e-4, "logits");
    const float loss = net.loss(labels().data());
    const float expected = fixture()["loss"][0];
    EXPECT_NEAR(loss, expected, 1e-5 * std::fabs(expected));
    net.backward();
    const ParamStore& ps = net.params();
    double worst = 0;
    std::string worst_name;
    for (int i = 0; i < int(ps.list().size()); ++i) {
        const Param& p = ps.param(i);
        const auto& g = fixture()["grad." + p.name];
        ASSERT_EQ(g.size(), p.size) << p.name;
        const double err = max_rel_error(ps.grad(i), g.data(), p.size);
        EXPECT_LE(err, 1e-3) << "gradient of " << p.name;
        if (err > worst) worst = err, worst_name = p.name;
    }
    std::printf("largest gradient error: %.3g (%s)\n", worst, worst_name.c_str());
}

TEST(GoogLeNetVsPyTorch, TenSgdStepsWithMomentumAndWeightDecay) {
    Net net = net_from_fixture();
    Sgd sgd(net.params(), SgdOptions{0.05f, 0.9f, 5e-4f, false});
    const auto y = labels();
    const auto& expected = fixture()["sgd.losses"];
    ASSERT_EQ(expected.size(), 10u);
    for (int step = 0; step < 10; ++step) {
        net.forward(fixture()["input"].data());
        const float loss = net.loss(y.data());
        net.backward();
        sgd.step();
        EXPECT_NEAR(loss, expected[size_t(step)], 1e-3 * std::fabs(expected[size_t(step)])) << "step " << step;
        std::printf("step %d: loss %.6f, PyTorch %.6f\n", step, loss, expected[size_t(step)]);
    }
}

// Inference in bf16 (Options::precision): the logits within twice the error of PyTorch's own bf16
// inference (CPU autocast, on the same weights and input: tools/make_fixtures.py), at batch 4 (every
// op on all threads) and, copies of the batch, at 16 and 128 (the batch split; 128 is bench's and
// eval's batch, 64 images a copy on 2 threads).
TEST(Bf16VsPyTorch, D2lLogitsWithinTwiceAutocastsError) {
    const double autocast = max_rel_error(fixture()["autocast_bf16.logits"].data(), fixture()["logits"].data(), 40);
    ASSERT_GT(autocast, 1e-4) << "the fixture's autocast logits are not bf16's";
    for (const auto [copies, parallel] : {std::pair{1, Parallel::ops}, std::pair{4, Parallel::batch}, std::pair{32, Parallel::batch}}) {
        Net net = d2l_googlenet();
        load_params_from(fixture(), net.params());
        net.set_training(false);
        Options o;
        o.precision = Precision::bf16;
        o.parallel = parallel;
        net.set_options(o);
        net.set_batch(4 * copies);
        const std::vector<float>& input = fixture()["input"];
        std::vector<float> images;
        for (int i = 0; i < copies; ++i) images.insert(images.end(), input.begin(), input.end());
        const float* logits = net.forward(images.data());
        double worst = 0;
        for (int i = 0; i < copies; ++i) {
            const double ours = max_rel_error(logits + 40 * i, fixture()["logits"].data(), 40);
            EXPECT_LE(ours, 2 * autocast) << "batch " << 4 * copies << ", images " << 4 * i << "-" << 4 * i + 3;
            worst = std::max(worst, ours);
        }
        std::printf("bf16 logits, batch %d: error %.3g at worst; PyTorch autocast's %.3g\n", 4 * copies, worst, autocast);
        if (copies > 1 || !native_bf16()) continue;
        // On a CPU with native bf16, every convolution but the stem's ran a bf16 kernel.
        int bf16_kernels = 0;
        for (const auto& op : net.ops())
            if (op->attributes().kind == OpAttributes::conv && op->inputs[0]->shape.c >= kBf16MinChannels) {
                const std::string k = op->kernels();
                EXPECT_TRUE(k.find("amx") != std::string::npos || k.find("bf16") != std::string::npos) << op->describe() << ": " << k;
                ++bf16_kernels;
            }
        EXPECT_EQ(bf16_kernels, 56);
    }
}

// Training in bf16 (mixed precision): the logits, the loss and every weight's gradient of one step
// on the fixture's batch, each within twice the error of PyTorch's own mixed-precision step (CPU
// autocast on the same weights and batch) against the float64 answer. A gradient's error is the
// whole tensor's (rel_l2_error): the worst element's, in a bias of 16 numbers, is a coin toss
// between two roundings of similar size (ours the worse in 54 of 116 tensors, autocast's in the rest).
// At batch 4 (every op on all threads) and, copies of it, 128 (the trainer's, split over the threads).
TEST(Bf16VsPyTorch, D2lTrainingStepWithinTwiceAutocastsError) {
    for (const auto [copies, parallel] : {std::pair{1, Parallel::ops}, std::pair{32, Parallel::batch}}) {
        const int batch = 4 * copies;
        Net net = d2l_googlenet();
        load_params_from(fixture(), net.params());
        Options o;
        o.precision = Precision::bf16;
        o.parallel = parallel;
        net.set_options(o);
        net.set_batch(batch);
        std::vector<float> images;
        std::vector<int> y;
        for (int i = 0; i < copies; ++i) {
            images.insert(images.end(), fixture()["input"].begin(), fixture()["input"].end());
            for (int label : labels()) y.push_back(label);
        }
        const float* logits = net.forward(images.data());
        const double logits_autocast = max_rel_error(fixture()["autocast_bf16.logits"].data(), fixture()["logits"].data(), 40);
        for (int i = 0; i < copies; ++i)
            EXPECT_LE(max_rel_error(logits + 40 * i, fixture()["logits"].data(), 40), 2 * logits_autocast) << "logits, batch " << batch;
        const float loss = net.loss(y.data());
        const double expected = fixture()["loss"][0], autocast = fixture()["autocast_bf16.loss"][0];
        ASSERT_GT(std::fabs(autocast - expected), 0) << "the fixture's autocast loss is not bf16's";
        EXPECT_LE(std::fabs(loss - expected), 2 * std::fabs(autocast - expected)) << "loss, batch " << batch;
        net.backward();
        const ParamStore& ps = net.params();
        double worst = 0, mean = 0;
        std::string worst_name;
        for (int i = 0; i < int(ps.list().size()); ++i) {
            const Param& p = ps.param(i);
            const auto& g = fixture()["grad." + p.name];
            ASSERT_EQ(g.size(), p.size) << p.name;
            const double ours = rel_l2_error(ps.grad(i), g.data(), p.size);
            const double theirs = rel_l2_error(fixture()["autocast_bf16.grad." + p.name].data(), g.data(), p.size);
            ASSERT_GT(theirs, 0) << p.name << ": the fixture's autocast gradient is not bf16's";
            EXPECT_LE(ours, 2 * theirs) << "gradient of " << p.name << ", batch " << batch << " (autocast's error " << theirs << ")";
            mean += ours / theirs / double(ps.list().size());
            if (ours / theirs > worst) worst = ours / theirs, worst_name = p.name;
        }
        std::printf("bf16 step, batch %d: loss %.6f (float64 %.6f, autocast %.6f); gradients' error / autocast's: %.2f on "
                    "average, %.2f at worst (%s)\n", batch, loss, expected, autocast, mean, worst, worst_name.c_str());
    }
}

// 20 SGD steps in bf16 against 20 in fp32, from the fixture's weights on its batch (four copies
// of it: batch 16, split over the threads as the trainer runs it): the losses fall together, each
// bf16 one within 0.005 + 0.5% of fp32's (ten times the largest difference seen).
TEST(Bf16VsPyTorch, TwentySgdStepsTrackFp32) {
    const int copies = 4;
    std::vector<float> images;
    std::vector<int> y;
    for (int i = 0; i < copies; ++i) {
        images.insert(images.end(), fixture()["input"].begin(), fixture()["input"].end());
        for (int label : labels()) y.push_back(label);
    }
    std::vector<float> losses[2];
    for (int b = 0; b < 2; ++b) {
        Net net = d2l_googlenet();
        load_params_from(fixture(), net.params());
        Options o;
        o.precision = b ? Precision::bf16 : Precision::fp32;
        o.threads = 2;
        net.set_options(o);
        net.set_batch(4 * copies);
        Sgd sgd(net.params(), SgdOptions{0.05f, 0.9f, 5e-4f, false});
        for (int step = 0; step < 20; ++step) {
            net.forward(images.data());
            losses[b].push_back(net.loss(y.data()));
            net.backward();
            sgd.step();
        }
    }
    for (int step = 0; step < 20; ++step) {
        const float f = losses[0][size_t(step)], h = losses[1][size_t(step)];
        std::printf("step %2d: loss fp32 %.5f, bf16 %.5f\n", step, f, h);
        EXPECT_NEAR(h, f, 0.005 + 0.005 * f) << "step " << step;
        if (step > 0) EXPECT_NE(h, f) << "step " << step << ": bf16 computed fp32's bits";
    }
    EXPECT_LT(losses[0].back(), 0.5f * losses[0].front()) << "the batch was not learned: the test tells nothing";
}
