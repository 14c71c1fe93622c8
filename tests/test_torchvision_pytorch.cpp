// torchvision's GoogLeNet (models/torchvision.json: batch norm, bias-free convs, 3x3 path 3,
// ceil-mode pools) against torchvision itself (fixtures/torchvision.safetensors, batch 3 at 64x64,
// random batch-norm statistics): the state_dict's names, evaluation-mode logits, and in training
// mode the logits, loss, every gradient and the running statistics after the step. Tolerances as
// for D2L's network: logits 1e-4, gradients 1e-3, statistics 1e-5 (max |diff| / max |expected|).
#include <cstdio>
#include <set>

#include "googlenet/models.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {

const Fixture& fixture() {
    static Fixture f("torchvision.safetensors");
    return f;
}

bool is_state(const std::string& name) {
    for (const char* prefix : {"input", "labels", "eval.", "train.", "grad.", "after."})
        if (name.rfind(prefix, 0) == 0) return false;
    return true;
}

// torchvision's network at 64x64 with torchvision's weights and statistics; dropout off in
// training (the fixture replaced it by the identity), evaluation ignores it anyway.
Net net_from_fixture() {
    std::string text = load_model("torchvision").text;
    const size_t p = text.find("\"p\": 0.2");
    EXPECT_NE(p, std::string::npos);
    text.replace(p, 8, "\"p\": 0.0");
    Net net = build_net(parse_model(text, "torchvision without dropout"), 64);
    TensorMap state;
    for (const auto& [name, t] : fixture().all())
        if (is_state(name)) state.emplace(name, t);
    assign_params(net.params(), state, "torchvision.safetensors");  // every name, both ways, exact shapes
    net.set_batch(3);
    return net;
}

std::vector<int> labels() { return labels_from(fixture()); }

TEST(TorchvisionVsPyTorch, ParametersAndNamesAreTorchvisions) {
    Net net = build_net(load_model("torchvision"));
    size_t total = 0;
    for (const Param& p : net.params().list()) total += p.size;
    EXPECT_EQ(total, 6624904u);  // without the auxiliary heads
    std::set<std::string> ours, theirs;
    for (const Param& p : net.params().list()) ours.insert(p.name);
    for (const Param& b : net.params().buffer_list()) ours.insert(b.name);
    for (const auto& [name, t] : fixture().all())
        if (is_state(name)) theirs.insert(name);
    EXPECT_EQ(ours, theirs);
    EXPECT_EQ(theirs.count("inception4e.branch3.1.bn.num_batches_tracked"), 1u);
}

TEST(TorchvisionVsPyTorch, EvaluationModeLogits) {
    Net net = net_from_fixture();
    net.set_training(false);
    const float* logits = net.forward(fixture()["input"].data());
    EXPECT_TENSOR_NEAR(logits, fixture()["eval.logits"].data(), 3000, 1e-4, "evaluation logits");
}

TEST(TorchvisionVsPyTorch, TrainingModeLogitsLossGradientsAndRunningStatistics) {
    Net net = net_from_fixture();
    const float* logits = net.forward(fixture()["input"].data());
    EXPECT_TENSOR_NEAR(logits, fixture()["train.logits"].data(), 3000, 1e-4, "training logits");
    const float loss = net.loss(labels().data());
    EXPECT_NEAR(loss, fixture()["train.loss"][0], 1e-5 * std::fabs(fixture()["train.loss"][0]));
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
    for (int i = 0; i < int(net.params().buffer_list().size()); ++i) {
        const Param& b = net.params().buffer_list()[size_t(i)];
        const auto& expected = fixture()["after." + b.name];
        EXPECT_TENSOR_NEAR(net.params().buffer(i), expected.data(), b.size, 1e-5, b.name + " after one step");
    }
}

}  // namespace
