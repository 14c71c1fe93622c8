// The D2L GoogLeNet's structure: parameter count, names and output shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "googlenet/models.h"
#include "googlenet/train.h"

using namespace googlenet;

TEST(Model, D2lParameterCountMatchesPyTorch) {
    Net net = d2l_googlenet();
    size_t total = 0;
    for (const Param& p : net.params().list()) total += p.size;
    EXPECT_EQ(total, 5977530u);
    EXPECT_EQ(net.params().list().size(), 116u);  // 57 convs + 1 linear, weight and bias each
    EXPECT_EQ(net.params().list().front().name, "0.0.weight");
    EXPECT_EQ(net.params().find("2.0.p2_2.weight"), 10);
    EXPECT_EQ(net.params().list().back().name, "5.bias");
    EXPECT_EQ(net.macs_per_image(), 276066304);  // torch_googlenet.py flops --size 96
}

TEST(Model, ForwardShapes) {
    Net net = d2l_googlenet();
    init_params(net.params(), 1);
    net.set_batch(2);
    std::vector<float> x(2 * 96 * 96, 0.5f);
    const float* logits = net.forward(x.data());
    EXPECT_EQ(net.value(net.output()).shape, (Shape{2, 10, 1, 1}));
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(std::isfinite(logits[i]));
}

TEST(Model, InputTooSmallNamesTheLayer) {
    try {
        Net net(1, 3, 3);
        net.conv(net.input(), ConvSpec{4, 5, 1, 0}, "0");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("input too small: conv 5x5/1 1->4"), std::string::npos) << msg;
    }
}

// Gradients share memory by liveness: far less than one buffer per value, and still correct
// (the PyTorch comparison of every gradient runs on this plan).
TEST(Model, GradientArenaIsMuchSmallerThanOneBufferPerValue) {
    Net net = d2l_googlenet();
    init_params(net.params(), 1);
    net.set_batch(2);
    size_t separate = 0;
    for (ValueId i = 0; i < net.value_count(); ++i) {
        const Value& v = net.value(i);
        if (v.live && v.needs_grad) separate += v.grad.size();
    }
    EXPECT_GT(separate, 0u);
    EXPECT_LT(net.gradient_arena_floats(), separate / 3) << "arena " << net.gradient_arena_floats() << " of " << separate;
}
