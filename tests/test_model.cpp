// The D2L GoogLeNet's structure: parameter count, names and output shapes.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "googlenet/summary.h"
#include "googlenet/bench.h"
#include "googlenet/models.h"
#include "googlenet/shape_rules.h"
#include "googlenet/train.h"
#include "testing.h"

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
    EXPECT_EQ(macs_per_image(net), 276066304);  // torch_googlenet.py flops --size 96
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
        Graph g(1, 3, 3);
        g.conv(g.input(), ConvSpec{4, 5, 1, 0}, "0");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("input too small: conv 5x5/1 1->4"), std::string::npos) << msg;
    }
}

// Gradients share memory by liveness: far less than one buffer per value, and still correct
// (the PyTorch comparison of every gradient runs on this plan).
// A graph is plain data: its copy builds the same network (the batch split's copies are made that
// way), and growing the copy leaves the original as it was.
TEST(Graph, ACopyBuildsTheSameNetworkAndStaysApart) {
    const Graph original = d2l_googlenet().graph();
    Graph copy = original;
    const Net a(original), b(copy);
    EXPECT_EQ(summary(a), summary(b));
    ASSERT_EQ(a.params().list().size(), b.params().list().size());
    for (size_t i = 0; i < a.params().list().size(); ++i) EXPECT_EQ(a.params().list()[i].name, b.params().list()[i].name);
    copy.relu(copy.output());
    EXPECT_EQ(copy.nodes().size(), original.nodes().size() + 1);
    EXPECT_EQ(copy.output(), original.output() + 1);
    EXPECT_EQ(summary(Net(original)), summary(a));
}

// Each node's output shape and description come from the graph alone, before any op exists.
TEST(Graph, ShapesAndDescribesEachNodeAndRefusesBadInput) {
    Graph g(3, 11, 11);
    const ValueId c = g.conv(g.input(), {8, 3, 2, 1}, "c");
    EXPECT_EQ(g.shape(c), (Shape{1, 8, 6, 6}));
    EXPECT_EQ(describe(g.nodes()[0].op, g.shape(0), 1), "conv 3x3/2 3->8");
    const ValueId p = g.max_pool(c, 3, 2, 0, true);  // ceil mode: windows at 0, 2 and 4 of 6
    EXPECT_EQ(g.shape(p), (Shape{1, 8, 3, 3}));
    EXPECT_EQ(describe(g.nodes()[1].op, g.shape(c), 1), "max-pool 3x3/2 ceil");
    EXPECT_EQ(g.shape(g.avg_pool(c, 3, 2, 0)), (Shape{1, 8, 2, 2})) << "without ceil mode, windows at 0 and 2";
    EXPECT_EQ(g.shape(g.concat({p, p})), (Shape{1, 16, 3, 3}));
    const ValueId fc = g.linear(p, 10, "fc");
    EXPECT_EQ(describe(g.nodes().back().op, g.shape(p), 1), "linear 72->10");
    EXPECT_EQ(g.output(), fc);
    EXPECT_THROW(g.concat({c, p}), Error);   // 6x6 beside 3x3
    EXPECT_THROW(g.relu(99), Error);         // no such value
    EXPECT_THROW(g.dropout(fc, 1.f), Error);
    EXPECT_THROW(g.lrn(c, 4, 1e-4f, 0.75f, 1.f), Error);
    const size_t nodes = g.nodes().size();
    EXPECT_THROW(g.conv(p, {4, 5, 1, 0}, "too_big"), Error);
    EXPECT_EQ(g.nodes().size(), nodes) << "a refused node is not added";
}

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
    EXPECT_LT(net.execution().gradient_floats, separate / 3) << "arena " << net.execution().gradient_floats << " of " << separate;
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
    EXPECT_LT(net.execution().activation_floats, separate * 2 / 3) << "arena " << net.execution().activation_floats << " of " << separate;
}

// The comparison every tensor test uses fails on NaN and infinity on either side (a result that
// is all NaN once scored 0 and passed every tolerance).
TEST(Comparison, NonFiniteValuesNeverPass) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const std::vector<float> good{1.f, 2.f, 3.f};
    for (float bad : {nan, inf, -inf}) {
        const std::vector<float> actual{1.f, bad, 3.f};
        EXPECT_FALSE(googlenet::testing::max_rel_error(actual.data(), good.data(), 3) <= 1e300) << bad;
        EXPECT_FALSE(googlenet::testing::max_rel_error(good.data(), actual.data(), 3) <= 1e300) << bad;
        EXPECT_NONFATAL_FAILURE(EXPECT_TENSOR_NEAR(actual.data(), good.data(), 3, 1.0, "x"), "max |diff|");
    }
    const std::vector<float> all_nan(3, nan);
    EXPECT_NONFATAL_FAILURE(EXPECT_TENSOR_NEAR(all_nan.data(), good.data(), 3, 1e-5, "x"), "max |diff|");
    EXPECT_EQ(googlenet::testing::max_rel_error(good.data(), good.data(), 3), 0.0);
}

// bench --profile's warning: an op far below the others' GFLOP/s that takes a real share of the
// time is named; a slow op that costs nothing is not.
TEST(Profile, SlowOpsAreNamed) {
    std::vector<OpProfile> ops;
    for (int i = 0; i < 5; ++i) ops.push_back({"conv " + std::to_string(i), "conv 3x3", "64x12x12", "jit", 10, 0, 0, 100});
    ops.push_back({"linear 2048->1024 (aux1.fc1)", "linear", "1024x1x1", "ref:any | ref:any | ref:any", 40, 0, 0, 1});
    ops.push_back({"linear 1024->10 (5)", "linear", "10x1x1", "gemm", 0.01, 0, 0, 0.5});
    ops.push_back({"max pool", "max pool", "64x6x6", "", 5, 0, 0, 0});
    const std::vector<std::string> slow = slow_ops(ops);
    ASSERT_EQ(slow.size(), 1u);
    EXPECT_NE(slow[0].find("linear 2048->1024 (aux1.fc1) runs at 1.00 GFLOP/s"), std::string::npos) << slow[0];
    EXPECT_NE(slow[0].find("ref:any"), std::string::npos) << slow[0];
    ops[5].gflops = 50;
    EXPECT_TRUE(slow_ops(ops).empty());
}

// PyTorch's output sizes (torch.nn.functional.max_pool2d / conv2d on these shapes), one rule for
// the builder, the reference ops and the ONNX importer.
TEST(ShapeRules, WindowPositionsAsPyTorchCountsThem) {
    EXPECT_EQ(window_positions(96, 7, 2, 3), 48);              // D2L's first convolution
    EXPECT_EQ(window_positions(112, 3, 2, 0, true), 56);       // torchvision's pools, ceil_mode
    EXPECT_EQ(window_positions(112, 3, 2, 0, false), 55);
    EXPECT_EQ(window_positions(14, 3, 2, 0, true), 7);
    EXPECT_EQ(window_positions(6, 3, 2, 1, true), 4);          // the last window starts inside the input
    EXPECT_EQ(window_positions(5, 2, 2, 1, true), 3);          // it would start in the padding: dropped
    EXPECT_EQ(window_positions(5, 2, 2, 1, false), 3);
    EXPECT_EQ(window_positions(2, 3, 1, 0), 0);                // does not fit once
    EXPECT_EQ(window_positions(int64_t(7), 3, 2, 0, 1, true), 4);  // ONNX's asymmetric pads: 7+0+1-3=5, ceil(5/2)+1
}

// Options change how the engine computes, never what: and nothing in the environment changes them.
TEST(Options, LayoutAndWinogradComeFromTheOptionsOnly) {
    setenv("GOOGLENET_LAYOUT", "nchw", 1);  // what 0.2 read: it must no longer matter
    setenv("GOOGLENET_WINOGRAD", "0", 1);
    Net net = d2l_googlenet();
    init_params(net.params(), 1);
    net.set_training(false);
    const std::vector<float> x = googlenet::testing::random_vector<float>(2 * 96 * 96, 5);
    auto run = [&](const Options& o) {
        net.set_options(o);
        net.set_batch(2);
        const float* logits = net.forward(x.data());
        return std::vector<float>(logits, logits + 20);
    };
    auto kernels = [&] {
        std::string all;
        for (const auto& op : net.ops()) all += op->kernels() + "\n";
        return all;
    };
    const std::vector<float> blocked = run(Options{});
    const Value& stem = *net.ops()[0]->output;  // the first convolution's (fused) output
    EXPECT_EQ(stem.layout, Layout::blocked);
    EXPECT_NE(kernels().find("winograd"), std::string::npos);
    const std::vector<float> plain = run(Options{0, Parallel::ops, Layout::nchw, 0});
    EXPECT_EQ(stem.layout, Layout::nchw);
    EXPECT_EQ(kernels().find("winograd"), std::string::npos) << kernels();
    EXPECT_TENSOR_NEAR(plain.data(), blocked.data(), blocked.size(), 1e-4, "logits, nchw and direct against the defaults");
    run(Options{0, Parallel::ops, Layout::blocked, 2});
    EXPECT_NE(kernels().find("winograd F(2x2)"), std::string::npos) << kernels();
    for (const char* larger : {"F(3x3)", "F(4x4)", "F(6x6)"}) EXPECT_EQ(kernels().find(larger), std::string::npos) << kernels();
    unsetenv("GOOGLENET_LAYOUT");
    unsetenv("GOOGLENET_WINOGRAD");
    EXPECT_THROW(net.set_options(Options{0, Parallel::ops, Layout::blocked, 5}), Error);
}
