// torchvision's GoogLeNet (models/torchvision.json: batch norm, bias-free convs, 3x3 path 3,
// ceil-mode pools, auxiliary heads) against torchvision itself (fixtures/torchvision.safetensors,
// batch 4 at 64x64, random batch-norm statistics, a well-conditioned draw: see make_fixtures.py):
// the state_dict's names, evaluation-mode logits, and in training mode the three logits, the loss
// (main + 0.3 x each head), the gradients no ReLU lies behind (see below) and the running
// statistics after the step. Tolerances as for D2L's network: logits 1e-4, gradients 1e-3,
// statistics 1e-5 (max |diff| / max |expected|).
#include <algorithm>
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
    for (const char* prefix : {"input", "labels", "eval.", "train.", "grad.", "after.", "pytorch_f32_error", "seed", "autocast_bf16."})
        if (name.rfind(prefix, 0) == 0) return false;
    return true;
}

// torchvision's network at 64x64 with torchvision's weights and statistics; dropout off in
// training (as the fixture turned it off), evaluation ignores it anyway.
Net net_from_fixture() {
    Net net = build_net(without_dropout("torchvision", 3), 64);
    TensorMap state;
    for (const auto& [name, t] : fixture().all())
        if (is_state(name)) state.emplace(name, t);
    assign_params(net.params(), state, "torchvision.safetensors");  // every name, both ways, exact shapes
    net.set_batch(4);
    return net;
}

std::vector<int> labels() { return labels_from(fixture()); }

TEST(TorchvisionVsPyTorch, ParametersAndNamesAreTorchvisions) {
    Net net = build_net(load_model("torchvision"));
    size_t total = 0, heads = 0;
    std::set<int> head_params;
    for (const auto& op : net.ops())
        if (op->auxiliary)
            for (int i : op->param_indices()) head_params.insert(i);
    for (int i = 0; i < int(net.params().list().size()); ++i) {
        total += net.params().param(i).size;
        if (head_params.count(i)) heads += net.params().param(i).size;
    }
    EXPECT_EQ(total - heads, 6624904u);  // as torchvision's summary counts it, without the heads
    EXPECT_EQ(total, 13004888u);
    ASSERT_EQ(net.auxiliaries().size(), 2u);
    EXPECT_FLOAT_EQ(net.auxiliaries()[0].weight, 0.3f);
    std::set<std::string> ours, theirs;
    for (const Param& p : net.params().list()) ours.insert(p.name);
    for (const Param& b : net.params().buffer_list()) ours.insert(b.name);
    for (const auto& [name, t] : fixture().all())
        if (is_state(name)) theirs.insert(name);
    EXPECT_EQ(ours, theirs);
    EXPECT_EQ(theirs.count("inception4e.branch3.1.bn.num_batches_tracked"), 1u);
    EXPECT_EQ(theirs.count("aux2.conv.bn.running_var"), 1u);
    EXPECT_EQ(theirs.count("aux1.fc2.bias"), 1u);
}

TEST(TorchvisionVsPyTorch, EvaluationModeLogits) {
    Net net = net_from_fixture();
    net.set_training(false);
    const float* logits = net.forward(fixture()["input"].data());
    EXPECT_TENSOR_NEAR(logits, fixture()["eval.logits"].data(), 4000, 1e-4, "evaluation logits");
}

TEST(TorchvisionVsPyTorch, TheFixtureIsWellConditioned) {
    // On most random draws float32 cannot reach float64's gradients to 1e-3 (PyTorch's own are
    // 1-16% off); make_fixtures.py takes one where PyTorch's float32 is near float64 (1-1.5e-4,
    // varying between runs).
    EXPECT_LT(fixture()["pytorch_f32_error"][0], 1e-3);
}

TEST(TorchvisionVsPyTorch, TrainingModeLogitsLossGradientsAndRunningStatistics) {
    Net net = net_from_fixture();
    const float* logits = net.forward(fixture()["input"].data());
    EXPECT_TENSOR_NEAR(logits, fixture()["train.logits"].data(), 4000, 1e-4, "training logits");
    ASSERT_EQ(net.auxiliaries().size(), 2u);
    EXPECT_TENSOR_NEAR(net.value(net.auxiliaries()[0].logits).data.data(), fixture()["train.aux1.logits"].data(), 4000, 1e-4,
                       "aux1 logits (after 4a)");
    EXPECT_TENSOR_NEAR(net.value(net.auxiliaries()[1].logits).data.data(), fixture()["train.aux2.logits"].data(), 4000, 1e-4,
                       "aux2 logits (after 4d)");
    const float loss = net.loss(labels().data());
    EXPECT_NEAR(loss, fixture()["train.loss"][0], 1e-5 * std::fabs(fixture()["train.loss"][0]));
    net.backward();
    // Gradients. Every ReLU in this network has inputs within ~1e-6 of a channel's spread from
    // zero on every draw at this size (measured), so float32 engines flip a few of them, and a
    // flipped one moves its channel's gradient and everything upstream of it by a few percent:
    // PyTorch's own float32 is 1-16% off its float64 on most draws (make_fixtures.py picks one
    // where it is not), and ours, here, by up to 5% in the blocked layout and 19% in NCHW, in
    // different tensors. So the tensors no ReLU mask lies behind are held to 1e-3 (the classifier
    // and the heads' last layers: they check the loss's gradient, the 0.3 weights and the heads'
    // wiring); the rest are reported, and the ops behind them are held to PyTorch one by one
    // (test_ops_pytorch: batch norm in both modes, ceil-mode pools, adaptive pooling).
    std::vector<double> errors;
    for (int i = 0; i < int(net.params().list().size()); ++i) {
        const Param& p = net.params().param(i);
        const auto& g = fixture()["grad." + p.name];
        ASSERT_EQ(g.size(), p.size) << p.name;
        const double err = max_rel_error(net.params().grad(i), g.data(), p.size);
        errors.push_back(err);
        for (const char* exact : {"fc.", "aux1.fc2.", "aux2.fc2."})
            if (p.name.rfind(exact, 0) == 0) EXPECT_LE(err, 1e-3) << "gradient of " << p.name;
    }
    std::sort(errors.begin(), errors.end());
    const double median = errors[errors.size() / 2], p90 = errors[errors.size() * 9 / 10];
    std::printf("gradient errors (max |diff| / max |expected|): median %.3g, 90th percentile %.3g, largest %.3g\n", median,
                p90, errors.back());
    // The flips above move a few tensors by percents, not most of them (on the fixture's draw,
    // measured in the Release build: median, 90th percentile and largest 3.0e-4, 5.7e-4, 0.04;
    // in the sanitizer build 2.9e-4, 5.6e-4, 0.04); a wrong op behind the trunk moves them all.
    EXPECT_LE(median, 2e-3) << "median gradient error over the " << errors.size() << " parameters";
    EXPECT_LE(p90, 1e-2) << "90th percentile gradient error over the " << errors.size() << " parameters";
    for (int i = 0; i < int(net.params().buffer_list().size()); ++i) {
        const Param& b = net.params().buffer_list()[size_t(i)];
        const auto& expected = fixture()["after." + b.name];
        EXPECT_TENSOR_NEAR(net.params().buffer(i), expected.data(), b.size, 1e-5, b.name + " after one step");
    }
}

// Mixed precision (bf16: convolutions, batch norm and ReLU between them in bf16, the heads fp32)
// against PyTorch's own (CPU autocast) on the same weights and batch, both against the float64
// answer: the loss within twice autocast's error, and the gradients' errors (over each tensor,
// rel_l2_error) within twice autocast's in the median and the 90th percentile over the tensors,
// and tensor by tensor for the classifier and the heads' last layers. bf16 on this draw is far
// from float64 in either engine (training-mode batch norm over 4 images amplifies its rounding:
// measured, ours 0.85 in the median against autocast's 1.0, 0.96 against 1.12 at the 90th
// percentile, the classifier's weights 0.20 against 0.23), so this checks that ours is no worse
// than PyTorch's mixed precision, not that bf16 is near float64 here.
TEST(TorchvisionVsPyTorch, Bf16TrainingStepWithinTwiceAutocastsError) {
    Net net = net_from_fixture();
    Options o;
    o.precision = Precision::bf16;
    net.set_options(o);
    net.set_batch(4);
    net.forward(fixture()["input"].data());
    const double loss = net.loss(labels().data()), expected = fixture()["train.loss"][0],
                 autocast = fixture()["autocast_bf16.train.loss"][0];
    ASSERT_GT(std::fabs(autocast - expected), 0) << "the fixture's autocast loss is not bf16's";
    EXPECT_LE(std::fabs(loss - expected), 2 * std::fabs(autocast - expected)) << "loss";
    net.backward();
    std::vector<double> ours, theirs;
    for (int i = 0; i < int(net.params().list().size()); ++i) {
        const Param& p = net.params().param(i);
        const auto& g = fixture()["grad." + p.name];
        ours.push_back(rel_l2_error(net.params().grad(i), g.data(), p.size));
        theirs.push_back(rel_l2_error(fixture()["autocast_bf16.grad." + p.name].data(), g.data(), p.size));
        for (const char* last : {"fc.", "aux1.fc2.", "aux2.fc2."})  // no ReLU mask behind them
            if (p.name.rfind(last, 0) == 0) EXPECT_LE(ours.back(), 2 * theirs.back()) << "gradient of " << p.name;
    }
    std::sort(ours.begin(), ours.end());
    std::sort(theirs.begin(), theirs.end());
    const size_t median = ours.size() / 2, p90 = ours.size() * 9 / 10;
    std::printf("bf16 step: loss %.6f (float64 %.6f, autocast %.6f); gradients' error: median %.3g (autocast %.3g), "
                "90th percentile %.3g (autocast %.3g)\n",
                loss, expected, autocast, ours[median], theirs[median], ours[p90], theirs[p90]);
    EXPECT_LE(ours[median], 2 * theirs[median]);
    EXPECT_LE(ours[p90], 2 * theirs[p90]);
}

}  // namespace
