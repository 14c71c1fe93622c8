// Dropout has no PyTorch fixture (its masks are random on both sides): it is held to its
// definition instead. Evaluation (and p = 0) passes through; training keeps each element with probability
// 1 - p, scaled by 1 / (1 - p), backward applies the same mask, and masks repeat exactly for the
// same (seed, step) and differ otherwise. A network in evaluation mode gives the same logits
// with and without its dropout layers.
#include <cmath>

#include "googlenet/train.h"
#include "op_runner.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {

const Shape kShape{4, 8, 16, 16};

TEST(Dropout, EvaluationPassesThrough) {
    OpRunner run([](ParamStore&) { return make_dropout(0.4f, 0); }, {kShape}, kShape);
    const auto x = random_vector<float>(kShape.numel(), 1), dy = random_vector<float>(kShape.numel(), 2);
    run.set_input(0, x);
    run.state().training = false;
    const float* y = run.forward();
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], x[i]);
    run.backward(dy);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(run.input_grad(0)[i], dy[i]);
}

// p = 0 (how the network tests turn dropout off) is the identity in training too.
TEST(Dropout, ZeroProbabilityPassesThroughInTraining) {
    OpRunner run([](ParamStore&) { return make_dropout(0.f, 0); }, {kShape}, kShape);
    const auto x = random_vector<float>(kShape.numel(), 3), dy = random_vector<float>(kShape.numel(), 4);
    run.set_input(0, x);
    run.state().training = true;
    const float* y = run.forward();
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], x[i]);
    run.backward(dy);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(run.input_grad(0)[i], dy[i]);
}

TEST(Dropout, TrainingKeepsOneMinusPScaledAndBackwardUsesTheSameMask) {
    const float p = 0.4f;
    OpRunner run([&](ParamStore&) { return make_dropout(p, 7); }, {kShape}, kShape);
    auto x = random_vector<float>(kShape.numel(), 3);
    for (auto& v : x) v = v == 0.f ? 1.f : v;  // no zeros, so a zero output means dropped
    const auto dy = random_vector<float>(kShape.numel(), 4);
    run.set_input(0, x);
    run.state().seed = 5;
    run.state().step = 9;
    const std::vector<float> y(run.forward(), run.forward() + x.size());
    run.backward(dy);
    size_t dropped = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        if (y[i] == 0.f) {
            ++dropped;
            ASSERT_EQ(run.input_grad(0)[i], 0.f) << i;
        } else {
            ASSERT_FLOAT_EQ(y[i], x[i] / (1 - p)) << i;
            ASSERT_FLOAT_EQ(run.input_grad(0)[i], dy[i] / (1 - p)) << i;
        }
    }
    // 8192 draws: the share dropped is p within 4 standard deviations (0.022).
    const double share = double(dropped) / double(x.size()), sigma = std::sqrt(p * (1 - p) / double(x.size()));
    EXPECT_NEAR(share, p, 4 * sigma);
}

TEST(Dropout, MasksRepeatForTheSameSeedAndStepOnly) {
    OpRunner run([](ParamStore&) { return make_dropout(0.5f, 3); }, {kShape}, kShape);
    run.set_input(0, std::vector<float>(kShape.numel(), 1.f));
    auto mask = [&](uint64_t seed, uint64_t step) {
        run.state().seed = seed;
        run.state().step = step;
        const float* y = run.forward();
        return std::vector<float>(y, y + kShape.numel());
    };
    const auto a = mask(1, 10);
    EXPECT_EQ(a, mask(1, 10));
    EXPECT_NE(a, mask(1, 11));
    EXPECT_NE(a, mask(2, 10));
    OpRunner other([](ParamStore&) { return make_dropout(0.5f, 4); }, {kShape}, kShape);  // another layer
    other.set_input(0, std::vector<float>(kShape.numel(), 1.f));
    other.state().seed = 1;
    other.state().step = 10;
    const float* b = other.forward();
    EXPECT_NE(a, std::vector<float>(b, b + kShape.numel()));
}

TEST(Dropout, InANetEvaluationIgnoresItAndTrainingUsesIt) {
    auto build = [](bool with_dropout) {
        Graph g(1, 8, 8);
        ValueId x = g.relu(g.conv(g.input(), ConvSpec{8, 3, 1, 1}, "0"));
        if (with_dropout) x = g.dropout(x, 0.5f);
        x = g.global_avg_pool(x);
        if (with_dropout) x = g.dropout(x, 0.3f);
        g.set_output(g.linear(x, 10, "1"));
        Net net(g);
        init_params(net.params(), 1);
        return net;
    };
    Net plain = build(false), dropped = build(true);
    const auto images = random_vector<float>(2 * 64, 5);
    plain.set_batch(2);
    dropped.set_batch(2);
    const std::vector<float> expected(plain.forward(images.data()), plain.forward(images.data()) + 20);
    dropped.set_training(false);
    const float* eval = dropped.forward(images.data());
    for (int i = 0; i < 20; ++i) EXPECT_FLOAT_EQ(eval[i], expected[size_t(i)]);
    dropped.set_training(true);
    dropped.set_random(1, 1);
    const float* train = dropped.forward(images.data());
    double diff = 0;
    for (int i = 0; i < 20; ++i) diff += std::fabs(train[i] - expected[size_t(i)]);
    EXPECT_GT(diff, 1e-3);
}

}  // namespace
