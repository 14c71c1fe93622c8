// The D2L GoogLeNet's structure: parameter count, names and output shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "googlenet/models.h"
#include "googlenet/train.h"
#include "core/memory_plan.h"

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

// Activations share memory where their lifetimes allow: only what backward reads lives through
// the forward pass. In D2L's network every ReLU mask that a max pool or a concatenation can apply
// is handed on, so the first convolution's output (the largest value) and every Inception path's
// output are free once read. Correctness on this plan: the PyTorch comparisons of every gradient.
TEST(Model, ActivationsLiveOnlyAsLongAsSomethingReadsThem) {
    Net net = d2l_googlenet();
    init_params(net.params(), 1);
    net.set_batch(2);
    size_t separate = 0;
    for (ValueId i = 0; i < net.value_count(); ++i)
        if (net.value(i).live) separate += net.value(i).data.size();
    const auto& ops = net.ops();
    EXPECT_EQ(ops[0]->describe(), "conv+relu 7x7/2 1->64");
    EXPECT_EQ(ops[0]->relu_mask, ReluMask::handed_on);
    EXPECT_EQ(ops[1]->relu_mask, ReluMask::own) << ops[1]->describe();
    int concats_owning = 0, paths_handing_on = 0;
    for (const auto& op : ops) {
        if (op->describe().rfind("concat", 0) == 0 && op->relu_mask == ReluMask::own) ++concats_owning;
        if (op->describe().rfind("conv+relu", 0) == 0 && op->relu_mask == ReluMask::handed_on) ++paths_handing_on;
    }
    EXPECT_EQ(paths_handing_on, 2 + 9 * 4) << "b1's and b2's last convolutions and four paths per block";
    EXPECT_EQ(concats_owning, 7) << "blocks 3b and 4e hand theirs on to the max pool after them";
    EXPECT_LT(net.activation_arena_floats(), separate * 2 / 3) << "arena " << net.activation_arena_floats() << " of " << separate;
}

TEST(MemoryPlan, OverlappingLifetimesNeverShare) {
    std::vector<Lifetime> lives{{0, 2, 100}, {1, 3, 50}, {3, 5, 100}, {4, 4, 10}};
    const size_t total = plan_arena(lives);
    for (size_t i = 0; i < lives.size(); ++i)
        for (size_t j = i + 1; j < lives.size(); ++j) {
            const Lifetime &a = lives[i], &b = lives[j];
            const bool overlap_in_time = a.first <= b.last && b.first <= a.last;
            const bool overlap_in_memory = a.offset < b.offset + b.size && b.offset < a.offset + a.size;
            EXPECT_FALSE(overlap_in_time && overlap_in_memory) << i << " and " << j;
        }
    EXPECT_EQ(lives[0].offset, lives[2].offset) << "the two large buffers never live together";
    // 100 floats round up to 112 (whole 64-byte lines); the 50 (64) sits beside the first 100,
    // and the 10 (16) beside the second, where the 50 has died.
    EXPECT_EQ(lives[1].offset, 112u);
    EXPECT_EQ(lives[3].offset, 112u);
    EXPECT_EQ(total, 176u);
}
