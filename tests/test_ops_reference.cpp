// The oneDNN-backed ops against the reference ops on shapes beyond the PyTorch fixtures, and
// the rule that a value read by several ops receives the sum of their gradients.
// Tolerance: 1e-5 of each tensor's largest magnitude (see testing.h).
#include <omp.h>

#include <map>

#include "googlenet/models.h"
#include "googlenet/net.h"
#include "googlenet/reference.h"
#include "op_runner.h"
#include "ops/winograd.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {
constexpr double kTol = 1e-5;

// Parameter i drawn with seed `seed + i`.
void randomize_params(ParamStore& ps, uint64_t seed, double scale = 1.0) {
    for (int i = 0; i < int(ps.list().size()); ++i) {
        const auto v = random_vector<float>(ps.param(i).size, seed + uint64_t(i), scale);
        std::copy(v.begin(), v.end(), ps.value(i));
    }
}
}

TEST(OpsVsReference, ConvShapes) {
    struct C { int n, c, h, w, o, k, s, p; };
    for (const C c : {C{3, 5, 11, 11, 7, 3, 2, 1}, C{2, 8, 6, 6, 16, 5, 1, 2}, C{4, 1, 20, 20, 8, 7, 2, 3},
                      C{2, 16, 4, 4, 9, 1, 1, 0}, C{1, 3, 9, 7, 2, 3, 1, 0}}) {
        const ref::Dims d{c.n, c.c, c.h, c.w};
        const Shape out{c.n, c.o, ref::out_size(c.h, c.k, c.s, c.p), ref::out_size(c.w, c.k, c.s, c.p)};
        OpRunner run([&](ParamStore& ps) { return make_conv(ps, c.c, {c.o, c.k, c.s, c.p}, "w"); },
                     {Shape{c.n, c.c, c.h, c.w}}, out);
        const auto x = random_vector<float>(d.numel(), 1), w = random_vector<float>(size_t(c.o) * c.c * c.k * c.k, 2),
                   b = random_vector<float>(size_t(c.o), 3), dy = random_vector<float>(out.numel(), 4);
        run.set_input(0, x);
        run.set_param(0, w);
        run.set_param(1, b);
        std::vector<float> y(out.numel()), dx(x.size()), dw(w.size()), db(b.size());
        ref::conv2d_forward(y.data(), x.data(), w.data(), b.data(), d, c.o, c.k, c.s, c.p);
        EXPECT_TENSOR_NEAR(run.forward(), y.data(), y.size(), kTol, "conv forward");
        run.backward(dy);
        ref::conv2d_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), d, c.o, c.k, c.s, c.p);
        EXPECT_TENSOR_NEAR(run.input_grad(0), dx.data(), dx.size(), kTol, "conv dx");
        EXPECT_TENSOR_NEAR(run.param_grad(0), dw.data(), dw.size(), kTol, "conv dw");
        EXPECT_TENSOR_NEAR(run.param_grad(1), db.data(), db.size(), kTol, "conv db");
    }
}

TEST(OpsVsReference, PoolsOnOddSizes) {
    const ref::Dims d{2, 3, 11, 11};
    const auto x = random_vector<float>(d.numel(), 5);
    for (auto [k, s, p] : {std::tuple{3, 2, 1}, std::tuple{3, 1, 1}, std::tuple{5, 3, 0}}) {
        const int o = ref::out_size(11, k, s, p);
        const Shape out{2, 3, o, o};
        const auto dy = random_vector<float>(out.numel(), 6);
        std::vector<float> y(out.numel()), dx(x.size());
        OpRunner max_run([&](ParamStore&) { return make_max_pool(k, s, p); }, {Shape{2, 3, 11, 11}}, out);
        max_run.set_input(0, x);
        ref::max_pool_forward(y.data(), x.data(), d, k, s, p);
        EXPECT_TENSOR_NEAR(max_run.forward(), y.data(), y.size(), kTol, "max-pool forward");
        max_run.backward(dy);
        ref::max_pool_backward(dx.data(), dy.data(), x.data(), d, k, s, p);
        EXPECT_TENSOR_NEAR(max_run.input_grad(0), dx.data(), dx.size(), kTol, "max-pool dx");
        OpRunner avg_run([&](ParamStore&) { return make_avg_pool(k, k, s, p); }, {Shape{2, 3, 11, 11}}, out);
        avg_run.set_input(0, x);
        ref::avg_pool_forward(y.data(), x.data(), d, k, k, s, p);
        EXPECT_TENSOR_NEAR(avg_run.forward(), y.data(), y.size(), kTol, "avg-pool forward");
        avg_run.backward(dy);
        ref::avg_pool_backward(dx.data(), dy.data(), d, k, k, s, p);
        EXPECT_TENSOR_NEAR(avg_run.input_grad(0), dx.data(), dx.size(), kTol, "avg-pool dx");
    }
}

TEST(OpsVsReference, SecondConsumerAddsToTheGradient) {
    OpRunner run([](ParamStore&) { return make_relu(); }, {Shape{1, 2, 3, 3}}, Shape{1, 2, 3, 3});
    const auto x = random_vector<float>(18, 7), dy = random_vector<float>(18, 8);
    run.set_input(0, x);
    run.forward();
    run.backward(dy);  // first consumer: overwrites
    std::vector<float> first(run.input_grad(0), run.input_grad(0) + 18);
    for (int i = 0; i < 18; ++i) run.input(0).grad[size_t(i)] = 1.0f;  // another consumer's share
    std::vector<float> expected(18);
    for (int i = 0; i < 18; ++i) expected[size_t(i)] = 1.0f + first[size_t(i)];
    run.backward_accumulating(dy);
    EXPECT_TENSOR_NEAR(run.input_grad(0), expected.data(), 18, 0.0, "accumulated relu dx");
}

// A small net whose input feeds two convs: dx must be the sum of both paths' gradients.
TEST(OpsVsReference, FanOutInNet) {
    Graph graph(2, 5, 5);
    const ValueId a = graph.conv(graph.input(), {3, 1, 1, 0}, "a");
    const ValueId b = graph.conv(graph.input(), {4, 3, 1, 1}, "b");
    graph.set_output(graph.linear(graph.global_avg_pool(graph.concat({a, b})), 2, "c"));
    Net net(graph);
    net.require_input_grad();
    net.set_batch(2);
    ParamStore& ps = net.params();
    randomize_params(ps, 20);
    const auto x = random_vector<float>(100, 9), dlogits = random_vector<float>(4, 10);
    net.forward(x.data());
    net.backward(dlogits.data());

    // The same by hand with the reference ops.
    const ref::Dims d{2, 2, 5, 5};
    std::vector<float> ya(2 * 3 * 25), yb(2 * 4 * 25), cat(2 * 7 * 25), pooled(14), logits(4);
    ref::conv2d_forward(ya.data(), x.data(), ps.value(0), ps.value(1), d, 3, 1, 1, 0);
    ref::conv2d_forward(yb.data(), x.data(), ps.value(2), ps.value(3), d, 4, 3, 1, 1);
    const float* parts[] = {ya.data(), yb.data()};
    const int channels[] = {3, 4};
    ref::concat_forward(cat.data(), parts, channels, 2, 2, 25);
    ref::avg_pool_forward(pooled.data(), cat.data(), ref::Dims{2, 7, 5, 5}, 5, 5, 1, 0);
    ref::linear_forward(logits.data(), pooled.data(), ps.value(4), ps.value(5), 2, 7, 2);
    EXPECT_TENSOR_NEAR(net.value(net.output()).data.data(), logits.data(), 4, kTol, "logits");
    std::vector<float> dpooled(14), dcat(cat.size()), dya(ya.size()), dyb(yb.size()), dxa(100), dxb(100), dx(100);
    ref::linear_backward<float>(dpooled.data(), nullptr, nullptr, dlogits.data(), pooled.data(), ps.value(4), 2, 7, 2);
    ref::avg_pool_backward(dcat.data(), dpooled.data(), ref::Dims{2, 7, 5, 5}, 5, 5, 1, 0);
    float* dparts[] = {dya.data(), dyb.data()};
    ref::concat_backward(dparts, dcat.data(), channels, 2, 2, 25);
    ref::conv2d_backward<float>(dxa.data(), nullptr, nullptr, dya.data(), x.data(), ps.value(0), d, 3, 1, 1, 0);
    ref::conv2d_backward<float>(dxb.data(), nullptr, nullptr, dyb.data(), x.data(), ps.value(2), d, 4, 3, 1, 1);
    for (int i = 0; i < 100; ++i) dx[size_t(i)] = dxa[size_t(i)] + dxb[size_t(i)];
    EXPECT_TENSOR_NEAR(net.value(net.input()).grad.data(), dx.data(), 100, kTol, "input gradient, two consumers");
}

// conv -> relu becomes one op (ReLU as the convolution's post-op); results must not change.
TEST(OpsVsReference, ConvReluFusionInNet) {
    Graph graph(3, 6, 6);
    ValueId x = graph.relu(graph.conv(graph.input(), {4, 3, 1, 1}, "a"));
    graph.set_output(graph.linear(graph.global_avg_pool(x), 2, "b"));
    Net net(graph);
    net.require_input_grad();
    net.set_batch(2);
    ASSERT_EQ(net.ops().size(), 3u) << "conv and relu were not fused";
    EXPECT_EQ(net.ops()[0]->describe(), "conv+relu 3x3/1 3->4");
    ParamStore& ps = net.params();
    randomize_params(ps, 40);
    const auto in = random_vector<float>(2 * 3 * 36, 41), dlogits = random_vector<float>(4, 42);
    const float* logits = net.forward(in.data());
    net.backward(dlogits.data());

    const ref::Dims d{2, 3, 6, 6};
    std::vector<float> pre(2 * 4 * 36), act(pre.size()), pooled(8), expected(4);
    ref::conv2d_forward(pre.data(), in.data(), ps.value(0), ps.value(1), d, 4, 3, 1, 1);
    ref::relu_forward(act.data(), pre.data(), pre.size());
    ref::avg_pool_forward(pooled.data(), act.data(), ref::Dims{2, 4, 6, 6}, 6, 6, 1, 0);
    ref::linear_forward(expected.data(), pooled.data(), ps.value(2), ps.value(3), 2, 4, 2);
    EXPECT_TENSOR_NEAR(logits, expected.data(), 4, kTol, "logits");
    std::vector<float> dpooled(8), dact(act.size()), dpre(act.size()), dx(in.size()), dw(4 * 3 * 9), db(4);
    ref::linear_backward<float>(dpooled.data(), nullptr, nullptr, dlogits.data(), pooled.data(), ps.value(2), 2, 4, 2);
    ref::avg_pool_backward(dact.data(), dpooled.data(), ref::Dims{2, 4, 6, 6}, 6, 6, 1, 0);
    ref::relu_backward(dpre.data(), dact.data(), act.data(), act.size());
    ref::conv2d_backward(dx.data(), dw.data(), db.data(), dpre.data(), in.data(), ps.value(0), d, 4, 3, 1, 1);
    EXPECT_TENSOR_NEAR(net.value(net.input()).grad.data(), dx.data(), dx.size(), kTol, "dx through fused relu");
    EXPECT_TENSOR_NEAR(ps.grad(0), dw.data(), dw.size(), kTol, "dw through fused relu");
    EXPECT_TENSOR_NEAR(ps.grad(1), db.data(), db.size(), kTol, "db through fused relu");
}

// A ReLU after a batch norm fuses into it (oneDNN's fuse_norm_relu: backward masks the gradient
// from forward's workspace), in training, in the blocked layout: forward, the input's gradient
// and batch norm's own, against the reference ops in sequence.
TEST(OpsVsReference, BatchNormReluFusionInNet) {
    Graph graph(3, 6, 6);
    const ValueId a = graph.conv(graph.input(), {16, 1, 1, 0, false}, "a");
    const ValueId x = graph.relu(graph.batch_norm(a, 1e-3f, 0.1f, "bn"));
    graph.set_output(graph.linear(graph.global_avg_pool(x), 2, "b"));
    Net net(graph);
    net.set_batch(2);
    ASSERT_EQ(net.ops().size(), 4u) << "batch norm and relu were not fused";
    EXPECT_EQ(net.ops()[1]->describe(), "batch-norm+relu eps 0.001");
    ASSERT_EQ(net.value(a).layout, Layout::blocked);
    ParamStore& ps = net.params();
    randomize_params(ps, 90);
    const auto in = random_vector<float>(2 * 3 * 36, 91), dlogits = random_vector<float>(4, 92);
    const float* logits = net.forward(in.data());
    net.backward(dlogits.data());

    const ref::Dims d{2, 3, 6, 6}, m{2, 16, 6, 6};
    std::vector<float> conv(2 * 16 * 36), norm(conv.size()), act(conv.size()), pooled(32), expected(4);
    ref::conv2d_forward<float>(conv.data(), in.data(), ps.value(0), nullptr, d, 16, 1, 1, 0);
    ref::batch_norm_forward(norm.data(), conv.data(), ps.value(1), ps.value(2), m, 1e-3f);
    ref::relu_forward(act.data(), norm.data(), act.size());
    ref::avg_pool_forward(pooled.data(), act.data(), m, 6, 6, 1, 0);
    ref::linear_forward(expected.data(), pooled.data(), ps.value(3), ps.value(4), 2, 16, 2);
    EXPECT_TENSOR_NEAR(logits, expected.data(), 4, kTol, "logits");
    std::vector<float> dpooled(32), dact(act.size()), dnorm(act.size()), dconv(act.size()), dscale(16), dshift(16), dw(16 * 3);
    ref::linear_backward<float>(dpooled.data(), nullptr, nullptr, dlogits.data(), pooled.data(), ps.value(3), 2, 16, 2);
    ref::avg_pool_backward(dact.data(), dpooled.data(), m, 6, 6, 1, 0);
    ref::relu_backward(dnorm.data(), dact.data(), act.data(), act.size());
    ref::batch_norm_backward(dconv.data(), dscale.data(), dshift.data(), dnorm.data(), conv.data(), ps.value(1), m, 1e-3f);
    ref::conv2d_backward<float>(nullptr, dw.data(), nullptr, dconv.data(), in.data(), ps.value(0), d, 16, 1, 1, 0);
    EXPECT_TENSOR_NEAR(ps.grad(1), dscale.data(), dscale.size(), 1e-4, "batch norm's scale gradient through the fused relu");
    EXPECT_TENSOR_NEAR(ps.grad(2), dshift.data(), dshift.size(), 1e-4, "batch norm's shift gradient through the fused relu");
    EXPECT_TENSOR_NEAR(ps.grad(0), dw.data(), dw.size(), 1e-4, "the convolution's weight gradient through both");
}

// A value given twice to a concatenation gets the sum of both ranges' gradients (the executor's
// accumulation rule, src/execution/backward_step.cpp), in the blocked layout (16 channels) and
// in NCHW (3 channels).
TEST(OpsVsReference, AValueConcatenatedWithItselfGetsBothGradients) {
    for (int c : {16, 3}) {
        Graph graph(c, 1, 1);
        const ValueId x = graph.relu(graph.input());
        graph.concat({x, x});
        Net net(graph);
        net.require_input_grad();
        net.set_batch(2);
        const auto in = random_vector<float>(size_t(2 * c), 70), dy = random_vector<float>(size_t(4 * c), 71);
        const float* y = net.forward(in.data());
        net.backward(dy.data());
        std::vector<float> expected_y(dy.size()), expected_dx(in.size());
        for (int n = 0; n < 2; ++n)
            for (int k = 0; k < c; ++k) {
                const size_t i = size_t(n * c + k), first = size_t(n * 2 * c + k), second = first + size_t(c);
                expected_y[first] = expected_y[second] = std::max(in[i], 0.f);
                expected_dx[i] = in[i] > 0.f ? dy[first] + dy[second] : 0.f;
            }
        EXPECT_TENSOR_NEAR(y, expected_y.data(), expected_y.size(), 0.0, "y, " + std::to_string(c) + " channels");
        EXPECT_TENSOR_NEAR(net.value(net.input()).grad.data(), expected_dx.data(), expected_dx.size(), 1e-6,
                           "dx, " + std::to_string(c) + " channels");
    }
}

// Two conv+ReLU paths concatenated and max-pooled: the paths' ReLU masks are handed on to the
// concatenation and from it to the pool (hand_on_relu_masks, src/passes/fusion.cpp), so the paths' outputs need not
// live until backward. Gradients must be those of conv -> relu -> concat -> pool.
TEST(OpsVsReference, ReluMasksHandedOnThroughConcatAndMaxPool) {
    Graph graph(3, 8, 8);
    const ValueId a = graph.relu(graph.conv(graph.input(), {16, 3, 1, 1}, "a"));
    const ValueId b = graph.relu(graph.conv(graph.input(), {16, 1, 1, 0}, "b"));
    const ValueId pooled = graph.max_pool(graph.concat({a, b}), 3, 2, 1);
    graph.set_output(graph.linear(graph.global_avg_pool(pooled), 3, "c"));
    Net net(graph);
    net.require_input_grad();
    net.set_batch(2);
    const auto& ops = net.ops();
    ASSERT_EQ(ops.size(), 6u);
    EXPECT_EQ(ops[0]->relu_mask, ReluMask::handed_on);
    EXPECT_EQ(ops[1]->relu_mask, ReluMask::handed_on);
    EXPECT_EQ(ops[2]->relu_mask, ReluMask::handed_on) << "the concatenation hands the masks on to the pool";
    EXPECT_EQ(ops[3]->relu_mask, ReluMask::own);
    ParamStore& ps = net.params();
    randomize_params(ps, 60);
    const auto in = random_vector<float>(2 * 3 * 64, 61), dlogits = random_vector<float>(6, 62);
    const float* logits = net.forward(in.data());
    net.backward(dlogits.data());

    const ref::Dims d{2, 3, 8, 8}, cat{2, 32, 8, 8}, pool{2, 32, 4, 4};
    std::vector<float> pa(2 * 16 * 64), pb(pa.size()), ya(pa.size()), yb(pa.size()), y(2 * pa.size()), p(2 * 32 * 16),
        g(64), expected(6);
    ref::conv2d_forward(pa.data(), in.data(), ps.value(0), ps.value(1), d, 16, 3, 1, 1);
    ref::conv2d_forward(pb.data(), in.data(), ps.value(2), ps.value(3), d, 16, 1, 1, 0);
    ref::relu_forward(ya.data(), pa.data(), pa.size());
    ref::relu_forward(yb.data(), pb.data(), pb.size());
    const float* parts[] = {ya.data(), yb.data()};
    const int channels[] = {16, 16};
    ref::concat_forward(y.data(), parts, channels, 2, 2, 64);
    ref::max_pool_forward(p.data(), y.data(), cat, 3, 2, 1);
    ref::avg_pool_forward(g.data(), p.data(), pool, 4, 4, 1, 0);
    ref::linear_forward(expected.data(), g.data(), ps.value(4), ps.value(5), 2, 32, 3);
    EXPECT_TENSOR_NEAR(logits, expected.data(), 6, kTol, "logits");
    std::vector<float> dg(64), dp(p.size()), dy(y.size()), dya(ya.size()), dyb(yb.size()), dpa(pa.size()),
        dpb(pb.size()), dxa(in.size()), dxb(in.size()), dwa(16 * 3 * 9), dba(16), dwb(16 * 3), dbb(16);
    ref::linear_backward<float>(dg.data(), nullptr, nullptr, dlogits.data(), g.data(), ps.value(4), 2, 32, 3);
    ref::avg_pool_backward(dp.data(), dg.data(), pool, 4, 4, 1, 0);
    ref::max_pool_backward(dy.data(), dp.data(), y.data(), cat, 3, 2, 1);
    float* dparts[] = {dya.data(), dyb.data()};
    ref::concat_backward(dparts, dy.data(), channels, 2, 2, 64);
    ref::relu_backward(dpa.data(), dya.data(), ya.data(), ya.size());
    ref::relu_backward(dpb.data(), dyb.data(), yb.data(), yb.size());
    ref::conv2d_backward(dxa.data(), dwa.data(), dba.data(), dpa.data(), in.data(), ps.value(0), d, 16, 3, 1, 1);
    ref::conv2d_backward(dxb.data(), dwb.data(), dbb.data(), dpb.data(), in.data(), ps.value(2), d, 16, 1, 1, 0);
    for (size_t i = 0; i < dxa.size(); ++i) dxa[i] += dxb[i];
    EXPECT_TENSOR_NEAR(net.value(net.input()).grad.data(), dxa.data(), dxa.size(), kTol, "dx");
    EXPECT_TENSOR_NEAR(ps.grad(0), dwa.data(), dwa.size(), kTol, "path a dw");
    EXPECT_TENSOR_NEAR(ps.grad(1), dba.data(), dba.size(), kTol, "path a db");
    EXPECT_TENSOR_NEAR(ps.grad(2), dwb.data(), dwb.size(), kTol, "path b dw");
    EXPECT_TENSOR_NEAR(ps.grad(3), dbb.data(), dbb.size(), kTol, "path b db");
}

// A linear layer reading a map with spatial extent (as torchvision's auxiliary heads do) takes it
// in Flatten's C, H, W order even when the map is in a blocked layout; and the adaptive pooling op
// works between blocked layouts. Checked against the reference loops, forward and backward.
TEST(OpsVsReference, LinearOnASpatialMapAndAdaptivePoolInBlockedLayout) {
    Graph graph(3, 7, 7);
    ValueId x = graph.conv(graph.input(), {32, 3, 1, 1}, "a");
    x = graph.adaptive_avg_pool(x, 4, 4);
    graph.set_output(graph.linear(x, 5, "b"));
    Net net(graph);
    net.set_batch(2);
    ASSERT_NE(net.value(x).layout, Layout::nchw) << "the test needs the pooled map in a blocked layout";
    ParamStore& ps = net.params();
    randomize_params(ps, 50);
    const auto in = random_vector<float>(2 * 3 * 49, 51), dlogits = random_vector<float>(10, 52);
    const float* logits = net.forward(in.data());
    net.backward(dlogits.data());

    const ref::Dims d{2, 3, 7, 7};
    std::vector<float> conv(2 * 32 * 49), pooled(2 * 32 * 16), expected(10);
    ref::conv2d_forward(conv.data(), in.data(), ps.value(0), ps.value(1), d, 32, 3, 1, 1);
    ref::adaptive_avg_pool_forward(pooled.data(), conv.data(), ref::Dims{2, 32, 7, 7}, 4, 4);
    ref::linear_forward(expected.data(), pooled.data(), ps.value(2), ps.value(3), 2, 32 * 16, 5);
    EXPECT_TENSOR_NEAR(logits, expected.data(), 10, kTol, "logits");
    std::vector<float> dpooled(pooled.size()), dw(5 * 32 * 16), dconv(conv.size()), dwc(32 * 3 * 9), dbc(32);
    ref::linear_backward<float>(dpooled.data(), dw.data(), nullptr, dlogits.data(), pooled.data(), ps.value(2), 2,
                                32 * 16, 5);
    EXPECT_TENSOR_NEAR(ps.grad(2), dw.data(), dw.size(), kTol, "linear dw");
    ref::adaptive_avg_pool_backward(dconv.data(), dpooled.data(), ref::Dims{2, 32, 7, 7}, 4, 4);
    ref::conv2d_backward<float>(nullptr, dwc.data(), dbc.data(), dconv.data(), in.data(), ps.value(0), d, 32, 3, 1, 1);
    EXPECT_TENSOR_NEAR(ps.grad(0), dwc.data(), dwc.size(), kTol, "conv dw through the adaptive pool");
}

// Mean subtraction on the image (as imported Caffe graphs have it), in front of a convolution
// whose output is in a blocked layout: logits, the conv's weight gradient and the image's gradient
// against the reference loops.
TEST(OpsVsReference, NormalizeOnTheImage) {
    Graph graph(3, 6, 6);
    const std::vector<float> mean{104.f, 117.f, 123.f}, stddev{2.f, 0.5f, 4.f};
    ValueId x = graph.normalize(graph.input(), mean, stddev);
    x = graph.conv(x, {16, 3, 1, 1}, "a");
    graph.set_output(graph.linear(graph.global_avg_pool(x), 4, "b"));
    Net net(graph);
    net.require_input_grad();
    net.set_batch(2);
    ParamStore& ps = net.params();
    randomize_params(ps, 60);
    auto in = random_vector<float>(2 * 3 * 36, 61);
    for (float& v : in) v = 110.f + 20.f * v;  // pixels near the means
    const auto dlogits = random_vector<float>(8, 62);
    const float* logits = net.forward(in.data());
    net.backward(dlogits.data());

    const ref::Dims d{2, 3, 6, 6}, dc{2, 16, 6, 6};
    std::vector<float> normalized(in.size()), conv(2 * 16 * 36), pooled(2 * 16), expected(8);
    ref::normalize_forward(normalized.data(), in.data(), mean.data(), stddev.data(), d);
    ref::conv2d_forward(conv.data(), normalized.data(), ps.value(0), ps.value(1), d, 16, 3, 1, 1);
    ref::avg_pool_forward(pooled.data(), conv.data(), dc, 6, 6, 1, 0);
    ref::linear_forward(expected.data(), pooled.data(), ps.value(2), ps.value(3), 2, 16, 4);
    EXPECT_TENSOR_NEAR(logits, expected.data(), expected.size(), kTol, "logits");
    std::vector<float> dpooled(pooled.size()), dw(4 * 16), dconv(conv.size()), dnormalized(in.size()), din(in.size());
    std::vector<float> dwc(16 * 3 * 9), dbc(16);
    ref::linear_backward<float>(dpooled.data(), dw.data(), nullptr, dlogits.data(), pooled.data(), ps.value(2), 2, 16, 4);
    ref::avg_pool_backward(dconv.data(), dpooled.data(), dc, 6, 6, 1, 0);
    ref::conv2d_backward<float>(dnormalized.data(), dwc.data(), dbc.data(), dconv.data(), normalized.data(), ps.value(0), d,
                                16, 3, 1, 1);
    ref::normalize_backward(din.data(), dnormalized.data(), stddev.data(), d);
    EXPECT_TENSOR_NEAR(ps.grad(0), dwc.data(), dwc.size(), kTol, "conv dw after normalize");
    EXPECT_TENSOR_NEAR(net.value(net.input()).grad.data(), din.data(), din.size(), kTol, "image gradient through normalize");
}

// In evaluation the convolutions keep their reordered weights between forward passes; changed
// weights are picked up after weights_changed() (load_weights and set_training call it).
TEST(OpsVsReference, EvaluationPicksUpChangedWeights) {
    Graph graph(16, 6, 6);
    const ValueId first = graph.conv(graph.input(), {16, 1, 1, 0}, "a");  // the image stays NCHW: this one need not reorder
    const ValueId x = graph.conv(first, {32, 3, 1, 1}, "b");
    graph.set_output(graph.linear(graph.global_avg_pool(x), 4, "c"));
    Net net(graph);
    net.set_batch(2);
    net.set_training(false);
    ASSERT_NE(net.value(first).layout, Layout::nchw) << "the test needs weights reordered for a blocked layout";
    ParamStore& ps = net.params();
    const auto in = random_vector<float>(2 * 16 * 36, 70);
    const ref::Dims d{2, 16, 6, 6};
    std::vector<float> conv1(2 * 16 * 36), conv(2 * 32 * 36), pooled(2 * 32), expected(8);
    for (uint64_t round = 0; round < 3; ++round) {
        randomize_params(ps, 71 + round * 4);
        net.weights_changed();
        ref::conv2d_forward(conv1.data(), in.data(), ps.value(0), ps.value(1), d, 16, 1, 1, 0);
        ref::conv2d_forward(conv.data(), conv1.data(), ps.value(2), ps.value(3), d, 32, 3, 1, 1);
        ref::avg_pool_forward(pooled.data(), conv.data(), ref::Dims{2, 32, 6, 6}, 6, 6, 1, 0);
        ref::linear_forward(expected.data(), pooled.data(), ps.value(4), ps.value(5), 2, 32, 4);
        for (int pass = 0; pass < 2; ++pass)  // the second pass reuses the reordered weights
            EXPECT_TENSOR_NEAR(net.forward(in.data()), expected.data(), expected.size(), kTol,
                               "round " + std::to_string(round) + ", pass " + std::to_string(pass));
    }
}

// Winograd F(m x m, r x r), every tile size m of 3x3 and 5x5 kernels (all three passes of
// stride-1 convolutions), against the reference loops: odd map sizes (partial tiles), channel
// counts that do not fill a block, several chunks of tiles with a partial last one, bias and fused
// ReLU, and new weights after a version change. Larger tiles round more (their transforms' entries
// reach 8 and 1/24): from alpha = 6 points (F(4x4, 3x3), F(2x2, 5x5)) on they are held to 5e-5 of
// the output's scale, the others to kTol.
TEST(OpsVsReference, WinogradForward) {
    struct C { int n, c, h, w, k; bool relu; };
    struct F { int m, r; };
    for (const F f : {F{2, 3}, F{3, 3}, F{4, 3}, F{6, 3}, F{2, 5}, F{3, 5}, F{4, 5}})
    for (const C c : {C{2, 5, 7, 9, 20, true}, C{3, 32, 12, 12, 48, false}, C{1, 3, 1, 2, 8, true},
                      C{2, 64, 24, 24, 192, true}, C{4, 16, 24, 24, 32, false}, C{3, 20, 3, 3, 24, true}}) {
        const int m = f.m, r = f.r;
        if (r == 5 && c.k == 192) continue;  // the reference loops' 5x5 at 24x24 x 192 cost seconds; the 4 x 16 x 24x24 case covers it
        SCOPED_TRACE("F(" + std::to_string(m) + "x" + std::to_string(m) + ", " + std::to_string(r) + "x" + std::to_string(r) + ") on " +
                     std::to_string(c.h) + "x" + std::to_string(c.w));
        const double tol = m + r - 1 >= 6 ? 5e-5 : kTol;
        const int L = channel_block(), cp = (c.c + L - 1) / L * L, kp = (c.k + L - 1) / L * L;
        const Shape in{c.n, c.c, c.h, c.w}, out{c.n, c.k, c.h, c.w};
        auto block = [&](const std::vector<float>& x, int channels, int padded) {  // NCHW -> nChw16c / nChw8c
            std::vector<float> y(size_t(c.n) * padded * c.h * c.w, 0.f);
            for (int n = 0; n < c.n; ++n)
                for (int ch = 0; ch < channels; ++ch)
                    for (int i = 0; i < c.h * c.w; ++i)
                        y[((size_t(n) * (padded / L) + ch / L) * c.h * c.w + i) * L + ch % L] =
                            x[(size_t(n) * channels + ch) * c.h * c.w + i];
            return y;
        };
        ParamStore ps;
        RunState state;
        Runtime rt(ps, state);
        WinogradConv conv;
        conv.prepare(rt, in, out, r, c.relu, m);
        const auto x = random_vector<float>(in.numel(), 80);
        const auto xb = block(x, c.c, cp);
        std::vector<float> yb(size_t(c.n) * kp * c.h * c.w, 1.f), y(out.numel());
        for (uint64_t version = 1; version <= 2; ++version) {
            const auto w = random_vector<float>(size_t(c.k) * c.c * r * r, 80 + version), b = random_vector<float>(size_t(c.k), 90 + version);
            conv.set_weights(rt, w.data());
            conv.forward(rt, xb.data(), b.data(), yb.data());
            ref::conv2d_forward(y.data(), x.data(), w.data(), b.data(), ref::Dims{c.n, c.c, c.h, c.w}, c.k, r, 1, r / 2);
            if (c.relu) ref::relu_forward(y.data(), std::vector<float>(y).data(), y.size());
            EXPECT_TENSOR_NEAR(yb.data(), block(y, c.k, kp).data(), yb.size(), tol, "winograd forward");
            // Backward-data: the output's gradient convolved with the flipped, transposed weights.
            const auto dy = random_vector<float>(out.numel(), 95 + version);
            std::vector<float> dx(in.numel()), dxb(size_t(c.n) * cp * c.h * c.w, 1.f);
            ref::conv2d_backward<float>(dx.data(), nullptr, nullptr, dy.data(), x.data(), w.data(), ref::Dims{c.n, c.c, c.h, c.w}, c.k,
                                        r, 1, r / 2);
            WinogradConv back;
            back.prepare(rt, out, in, r, false, m);
            back.set_weights(rt, w.data(), true);
            back.forward(rt, block(dy, c.k, kp).data(), nullptr, dxb.data());
            EXPECT_TENSOR_NEAR(dxb.data(), block(dx, c.c, cp).data(), dxb.size(), tol, "winograd backward-data");
            // Backward-weights, where it runs (enough tiles for every thread: the largest case here).
            EXPECT_EQ(conv.has_backward_weights(), c.n * ((c.h + m - 1) / m) * ((c.w + m - 1) / m) >= 64 * omp_get_max_threads()) << c.n << "x" << c.h;
            if (!conv.has_backward_weights()) continue;
            std::vector<float> dw(w.size()), db(b.size()), dwb(w.size(), 1.f), dbb(b.size(), 1.f);
            ref::conv2d_backward<float>(nullptr, dw.data(), db.data(), dy.data(), x.data(), w.data(), ref::Dims{c.n, c.c, c.h, c.w}, c.k,
                                        r, 1, r / 2);
            conv.backward_weights(rt, xb.data(), block(dy, c.k, kp).data(), dwb.data(), dbb.data());
            EXPECT_TENSOR_NEAR(dwb.data(), dw.data(), dw.size(), tol, "winograd backward-weights");
            EXPECT_TENSOR_NEAR(dbb.data(), db.data(), db.size(), tol, "winograd bias gradient");
        }
    }
}

// An Inception block whose paths' channel counts (3, 5, 7, 6) do not fall on the layout's channel
// blocks: the concatenation and its inputs fall back to NCHW (Net::plan) beside blocked values.
// Logits, the image's gradient and every parameter's gradient against the reference loops, in
// double.
TEST(OpsVsReference, InceptionWhoseChannelsDoNotFillBlocks) {
    const int n = 2, h = 7, w = 7;
    Graph graph(3, h, w);
    const ValueId stem = graph.relu(graph.conv(graph.input(), {16, 3, 1, 1}, "stem"));
    const ValueId block = inception(graph, stem, InceptionSpec{3, 4, 5, 2, 7, 6}, "inc");
    graph.set_output(graph.linear(graph.global_avg_pool(block), 4, "fc"));
    Net net(graph);
    net.require_input_grad();
    net.set_batch(n);
    ASSERT_EQ(net.value(block).layout, Layout::nchw) << "the test needs the NCHW fallback around the concatenation";
    ASSERT_NE(net.value(stem).layout, Layout::nchw) << "and a blocked value before it";
    ParamStore& ps = net.params();
    randomize_params(ps, 300, 0.5);
    const auto image = random_vector<float>(size_t(n) * 3 * h * w, 301);
    const auto dlogits = random_vector<float>(size_t(n) * 4, 302);
    const float* logits = net.forward(image.data());
    std::vector<float> got_logits(logits, logits + n * 4);
    net.backward(dlogits.data());

    // The same in double with the reference ops: each conv+ReLU layer by its parameters' names.
    using V = std::vector<double>;
    auto param = [&](const std::string& name) {
        const float* p = ps.value(ps.find(name));
        return V(p, p + ps.param(ps.find(name)).size);
    };
    struct Layer { std::string name; int cin, cout, k; V x, y; };
    auto forward = [&](Layer& l, const V& x) {
        l.x = x;
        l.y.assign(size_t(n) * l.cout * h * w, 0);
        const V wt = param(l.name + ".weight"), b = param(l.name + ".bias");
        ref::conv2d_forward(l.y.data(), x.data(), wt.data(), b.data(), ref::Dims{n, l.cin, h, w}, l.cout, l.k, 1, l.k / 2);
        ref::relu_forward(l.y.data(), V(l.y).data(), l.y.size());
        return l.y;
    };
    std::map<std::string, std::pair<V, V>> grads;  // name -> (dw, db)
    auto backward = [&](Layer& l, const V& dy) {
        V dpre(dy.size()), dx(l.x.size()), dw(size_t(l.cout) * l.cin * l.k * l.k), db(size_t(l.cout));
        ref::relu_backward(dpre.data(), dy.data(), l.y.data(), dy.size());
        const V wt = param(l.name + ".weight");
        ref::conv2d_backward(dx.data(), dw.data(), db.data(), dpre.data(), l.x.data(), wt.data(), ref::Dims{n, l.cin, h, w},
                             l.cout, l.k, 1, l.k / 2);
        grads[l.name] = {dw, db};
        return dx;
    };
    Layer s{"stem", 3, 16, 3}, p1{"inc.p1_1", 16, 3, 1}, p21{"inc.p2_1", 16, 4, 1}, p22{"inc.p2_2", 4, 5, 3},
        p31{"inc.p3_1", 16, 2, 1}, p32{"inc.p3_2", 2, 7, 5}, p4{"inc.p4_2", 16, 6, 1};
    const V x0(image.begin(), image.end());
    const V xs = forward(s, x0);
    V pooled(xs.size());
    ref::max_pool_forward(pooled.data(), xs.data(), ref::Dims{n, 16, h, w}, 3, 1, 1);
    const V y1 = forward(p1, xs), y2 = forward(p22, forward(p21, xs)), y3 = forward(p32, forward(p31, xs)), y4 = forward(p4, pooled);
    const double* parts[] = {y1.data(), y2.data(), y3.data(), y4.data()};
    const int channels[] = {3, 5, 7, 6};
    V cat(size_t(n) * 21 * h * w), gap(size_t(n) * 21), out(size_t(n) * 4);
    ref::concat_forward(cat.data(), parts, channels, 4, n, h * w);
    ref::avg_pool_forward(gap.data(), cat.data(), ref::Dims{n, 21, h, w}, h, w, 1, 0);
    const V fw = param("fc.weight"), fb = param("fc.bias");
    ref::linear_forward(out.data(), gap.data(), fw.data(), fb.data(), n, 21, 4);
    EXPECT_TENSOR_NEAR(got_logits.data(), out.data(), out.size(), kTol, "logits");

    const V dout(dlogits.begin(), dlogits.end());
    V dgap(gap.size()), dfw(fw.size()), dfb(fb.size()), dcat(cat.size());
    ref::linear_backward(dgap.data(), dfw.data(), dfb.data(), dout.data(), gap.data(), fw.data(), n, 21, 4);
    grads["fc"] = {dfw, dfb};
    ref::avg_pool_backward(dcat.data(), dgap.data(), ref::Dims{n, 21, h, w}, h, w, 1, 0);
    V d1(y1.size()), d2(y2.size()), d3(y3.size()), d4(y4.size());
    double* dparts[] = {d1.data(), d2.data(), d3.data(), d4.data()};
    ref::concat_backward(dparts, dcat.data(), channels, 4, n, h * w);
    V dxs = backward(p1, d1);
    const V dxs2 = backward(p21, backward(p22, d2)), dxs3 = backward(p31, backward(p32, d3));
    const V dpooled = backward(p4, d4);
    V dxs4(xs.size());
    ref::max_pool_backward(dxs4.data(), dpooled.data(), xs.data(), ref::Dims{n, 16, h, w}, 3, 1, 1);
    for (size_t i = 0; i < dxs.size(); ++i) dxs[i] += dxs2[i] + dxs3[i] + dxs4[i];
    const V dimage = backward(s, dxs);
    EXPECT_TENSOR_NEAR(net.value(net.input()).grad.data(), dimage.data(), dimage.size(), kTol, "image gradient");
    for (const auto& [name, g] : grads) {
        EXPECT_TENSOR_NEAR(ps.grad(ps.find(name + ".weight")), g.first.data(), g.first.size(), kTol, name + ".weight gradient");
        EXPECT_TENSOR_NEAR(ps.grad(ps.find(name + ".bias")), g.second.data(), g.second.size(), kTol, name + ".bias gradient");
    }
    EXPECT_EQ(grads.size(), 8u);
}
