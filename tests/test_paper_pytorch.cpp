// The paper's GoogLeNet (models/paper.json: LRN, ceil-mode pools, dropout) against PyTorch
// (tools/reference_googlenet.py, fixtures/paper.safetensors): batch 2 at 64x64 in evaluation mode,
// where dropout passes through, so both sides compute the same function. Same tolerances as D2L's
// network: logits 1e-4, every gradient 1e-3 (max |diff| / max |expected| per tensor).
// Then 16 SGD steps in training mode (dropout on) must lower the loss on a fixed batch by 15%.
#include <cstdio>

#include "googlenet/models.h"
#include "googlenet/train.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {

const Fixture& fixture() {
    static Fixture f("paper.safetensors");
    return f;
}

// The network at 64x64 with PyTorch's weights.
Net net_from_fixture() {
    Net net = build_net(load_model("paper"), 64);
    ParamStore& ps = net.params();
    ps.allocate();
    for (int i = 0; i < int(ps.list().size()); ++i) {
        const LoadedTensor& t = fixture().at(ps.param(i).name);
        EXPECT_EQ(t.shape, ps.param(i).dims) << ps.param(i).name;
        std::copy(t.data.begin(), t.data.end(), ps.value(i));
    }
    net.set_batch(2);
    return net;
}

TEST(PaperVsPyTorch, ParameterCountIsThePapers) {
    Net net = build_net(load_model("paper"));
    size_t total = 0;
    for (const Param& p : net.params().list()) total += p.size;
    EXPECT_EQ(total, 6998552u);  // without the auxiliary classifiers
    EXPECT_EQ(net.value(net.output()).shape, (Shape{1, 1000, 1, 1}));
}

TEST(PaperVsPyTorch, LogitsLossAndEveryGradientInEvaluationMode) {
    Net net = net_from_fixture();
    net.set_training(false);
    const float* logits = net.forward(fixture()["input"].data());
    EXPECT_TENSOR_NEAR(logits, fixture()["logits"].data(), 2000, 1e-4, "logits");
    std::vector<int> y;
    for (float v : fixture()["labels"]) y.push_back(int(v));
    const float loss = net.loss(y.data());
    EXPECT_NEAR(loss, fixture()["loss"][0], 1e-5 * std::fabs(fixture()["loss"][0]));
    net.backward();
    double worst = 0;
    for (int i = 0; i < int(net.params().list().size()); ++i) {
        const Param& p = net.params().param(i);
        const auto& g = fixture()["grad." + p.name];
        ASSERT_EQ(g.size(), p.size) << p.name;
        const double err = max_rel_error(net.params().grad(i), g.data(), p.size);
        EXPECT_LE(err, 1e-3) << "gradient of " << p.name;
        worst = std::max(worst, err);
    }
    std::printf("largest gradient error: %.3g\n", worst);
}

TEST(PaperVsPyTorch, TrainingWithDropoutLowersTheLossOnABatch) {
    Net net = net_from_fixture();
    std::vector<int> y;
    for (float v : fixture()["labels"]) y.push_back(int(v));
    Sgd sgd(net.params(), SgdOptions{0.01f, 0.9f, 0.f, false});
    std::vector<float> losses;
    for (int step = 0; step < 16; ++step) {
        net.set_random(1, uint64_t(step));
        net.forward(fixture()["input"].data());
        losses.push_back(net.loss(y.data()));
        net.backward();
        sgd.step();
    }
    for (float l : losses) std::printf("%.4f ", l);
    std::printf("\n");
    EXPECT_LT(losses.back(), 0.85f * losses.front());  // measured: 6.95 -> 5.29 in 16 steps
}

}  // namespace
