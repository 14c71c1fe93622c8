// D2L's whole GoogLeNet against PyTorch (fixtures/googlenet.safetensors, batch 4 at 96x96):
// logits, loss, every parameter's gradient, and the losses of 10 SGD steps. PyTorch computes the
// fixture in float64 from the same float32 weights and input; measured here, our float32 gradients
// are within 1e-6 of it, while PyTorch's own float32 ones are off by up to 1.3e-2 (in b1-b3, where
// near-zero pre-activations flip ReLU's mask), so a float32 fixture could not hold 1e-3.
// Tolerances (max |diff| / max |expected| per tensor, see testing.h): logits 1e-4, gradients 1e-3,
// loss 1e-5 relative, SGD losses 1e-3 relative.
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
