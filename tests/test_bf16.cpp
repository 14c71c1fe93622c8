// bf16 (Options::precision, src/passes/precision.h): which values hold bf16, a bf16 convolution's
// forward and backward against the reference loops on bf16-rounded operands, the other networks
// near fp32. (D2L's whole network against PyTorch's float64 answer, within twice the error of
// PyTorch's own bf16 autocast, and 20 bf16 SGD steps against fp32's are in test_googlenet_pytorch.cpp.)
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "core/bf16.h"
#include "core/runtime.h"
#include "googlenet/about.h"
#include "googlenet/models.h"
#include "googlenet/reference.h"
#include "googlenet/train.h"
#include "op_runner.h"
#include "passes/layout.h"
#include "passes/precision.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {

// Each number rounded to bf16 as oneDNN rounds it (core/bf16.h, checked against oneDNN below).
std::vector<float> rounded(std::vector<float> v) {
    for (float& x : v) x = from_bf16(to_bf16(x));
    return v;
}

Options bf16() {
    Options o;
    o.precision = Precision::bf16;
    return o;
}

}  // namespace

// D2L's network, as planned where the stem stays fp32 (training, or a CPU without AMX): the stem
// (1 channel) and what it feeds until the first bf16 convolution stay f32 in their layout; the
// blocks' values are bf16 NHWC; the last block's concatenation, which the global average pool
// reads, its paths' outputs, and the logits stay f32.
TEST(Bf16, TypesAndLayoutsOfD2l) {
    const Net net = d2l_googlenet();
    const Graph& g = net.graph();
    std::vector<FusedOp> ops = fuse_ops(g);
    std::vector<Layout> layouts = choose_layouts(g, ops, Layout::blocked, 16);
    const std::vector<Layout> fp32_layouts = layouts;
    const std::vector<DataType> types = choose_types(g, ops, layouts, kBf16MinChannels);
    ASSERT_EQ(types.size(), size_t(g.value_count()));
    EXPECT_EQ(types[size_t(g.input())], DataType::f32);
    EXPECT_EQ(types[size_t(g.output())], DataType::f32);
    int bf16_convs = 0, bf16_values = 0;
    for (const FusedOp& op : ops) {
        const OpAttributes::Kind kind = g.nodes()[op.node].op.kind;
        const DataType in = types[size_t(op.inputs[0])], out = types[size_t(op.output)];
        if (kind == OpAttributes::conv && g.shape(op.inputs[0]).c < kBf16MinChannels) {  // the stem
            EXPECT_FALSE(runs_bf16(g, op, kBf16MinChannels));
            EXPECT_EQ(op.compute, DataType::f32);
            EXPECT_EQ(out, DataType::f32);
            EXPECT_EQ(layouts[size_t(op.output)], fp32_layouts[size_t(op.output)]);
        }
        EXPECT_EQ(op.compute == DataType::bf16, kind == OpAttributes::conv && runs_bf16(g, op, kBf16MinChannels))
            << "node " << op.node;
        if (op.compute == DataType::bf16) {
            ++bf16_convs;
            EXPECT_EQ(layouts[size_t(op.output)], Layout::nhwc);
        }
        if (kind == OpAttributes::max_pool || kind == OpAttributes::concat)
            for (ValueId v : op.inputs) EXPECT_EQ(types[size_t(v)], out) << "node " << op.node;
        if (kind == OpAttributes::avg_pool || kind == OpAttributes::adaptive_avg_pool) {  // the global pool
            EXPECT_EQ(in, DataType::f32);
            // From NHWC, oneDNN's pooling into another layout is its slow reference loop.
            EXPECT_EQ(layouts[size_t(op.output)], Layout::nhwc) << "node " << op.node;
        }
    }
    for (size_t v = 0; v < types.size(); ++v)
        if (types[v] == DataType::bf16) {
            ++bf16_values;
            EXPECT_EQ(layouts[v], Layout::nhwc) << "value " << v;
        }
    EXPECT_EQ(bf16_convs, 56);  // all but the stem
    EXPECT_GT(bf16_values, 40);
}

// With AMX in evaluation the stem runs bf16 too (oneDNN's AMX kernel takes its one channel): it
// reads the f32 image through its own conversion and writes bf16 NHWC, and the max pool after it
// is bf16; in training the 1-channel stem stays fp32, the 3-channel one does not.
TEST(Bf16, TheStemInBf16WhereAmxRunsIt) {
    const Net net = d2l_googlenet();
    const Graph& g = net.graph();
    std::vector<FusedOp> ops = fuse_ops(g);
    std::vector<Layout> layouts = choose_layouts(g, ops, Layout::blocked, 16);
    const std::vector<DataType> types = choose_types(g, ops, layouts, 1);
    EXPECT_TRUE(runs_bf16(g, ops[0], 1));
    EXPECT_EQ(ops[0].compute, DataType::bf16);
    EXPECT_EQ(types[size_t(g.input())], DataType::f32);
    EXPECT_EQ(types[size_t(ops[0].output)], DataType::bf16);
    EXPECT_EQ(layouts[size_t(ops[0].output)], Layout::nhwc);
    EXPECT_EQ(types[size_t(ops[1].output)], DataType::bf16) << g.nodes()[ops[1].node].op.kind;
    const bool amx = about().onednn_isa.find("amx") != std::string::npos;
    EXPECT_EQ(bf16_min_channels(false), amx ? 1 : kBf16MinChannels) << about().onednn_isa;
    EXPECT_EQ(bf16_min_channels(true), amx ? 3 : kBf16MinChannels) << about().onednn_isa;
}

// core/bf16.h's conversions (the gradient sum's) against oneDNN's f32 -> bf16 reorder, bit for bit:
// random numbers, halfway cases (rounded to even), the largest finite ones, infinities and NaN.
TEST(Bf16, ConversionRoundsAsOneDnn) {
    std::vector<float> x = random_vector<float>(4096, 41, 100.0);
    for (uint32_t bits : {0x3F808000u, 0x3F818000u, 0x3F80C000u, 0x7F7FFFFFu, 0xFF7FFFFFu, 0x7F800000u, 0xFF800000u,
                          0x7FC00000u, 0x7F800001u, 0x00000001u, 0x80000000u}) {
        float f;
        std::memcpy(&f, &bits, sizeof f);
        x.push_back(f);
    }
    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    const dnnl::memory::dims dims{int64_t(x.size())};
    dnnl::memory from({dims, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a}, engine, x.data());
    std::vector<uint16_t> theirs(x.size());
    dnnl::memory to({dims, dnnl::memory::data_type::bf16, dnnl::memory::format_tag::a}, engine, theirs.data());
    dnnl::reorder(from, to).execute(stream, from, to);
    stream.wait();
    for (size_t i = 0; i < x.size(); ++i) {
        const uint16_t ours = to_bf16(x[i]);
        if (std::isnan(x[i])) {
            EXPECT_TRUE(std::isnan(from_bf16(ours))) << i;
            continue;
        }
        // (oneDNN's AVX2 reorder writes -0 as +0, which compares equal.)
        if (x[i] != 0.f) EXPECT_EQ(ours, theirs[i]) << "element " << i << ": " << x[i];
        EXPECT_EQ(from_bf16(ours), from_bf16(theirs[i])) << "element " << i << ": " << x[i];
    }
}

namespace {

// The convolutions the two tests below run: (batch, in channels, size, out channels, kernel,
// stride, pad), with a bias; 3x3, 5x5, 1x1 and strided.
struct ConvCase {
    int n, c, h, o, k, s, p;
    ref::Dims in() const { return {n, c, h, h}; }
    Shape out() const {
        const int oh = ref::out_size(h, k, s, p);
        return {n, o, oh, oh};
    }
    std::string what() const {
        return "bf16 conv " + std::to_string(c) + "->" + std::to_string(o) + " " + std::to_string(k) + "x" + std::to_string(k);
    }
    std::unique_ptr<OpRunner> runner(bool training) const {
        return std::make_unique<OpRunner>([&](ParamStore& ps) { return make_conv(ps, c, {o, k, s, p}, "w"); },
                                          std::vector<Shape>{Shape{n, c, h, h}}, out(), bf16(), training);
    }
};
const ConvCase kConvCases[] = {{2, 32, 12, 48, 3, 1, 1}, {3, 16, 9, 24, 5, 1, 2}, {2, 64, 6, 32, 1, 1, 0}, {2, 16, 11, 16, 3, 2, 1}};

}  // namespace

// A bf16 convolution (fused ReLU, bias, 5x5 and 1x1, stride 2) against the reference in double
// on the bf16-rounded input and weights: oneDNN sums the products in f32, so what is left is
// f32 rounding, far below bf16's (2^-9 relative), which an f32 computation would leave.
TEST(Bf16, ConvMatchesReferenceOnRoundedInputs) {
    for (const ConvCase& c : kConvCases) {
        const ref::Dims d = c.in();
        const Shape out = c.out();
        const std::unique_ptr<OpRunner> runner = c.runner(/*training=*/false);
        OpRunner& run = *runner;
        const auto x = random_vector<float>(d.numel(), 11), w = random_vector<float>(size_t(c.o) * c.c * c.k * c.k, 12, 0.2),
                   b = random_vector<float>(size_t(c.o), 13);
        run.set_input(0, x);
        run.set_param(0, w);
        run.set_param(1, b);
        const auto xr = rounded(x), wr = rounded(w);
        std::vector<double> xd(xr.begin(), xr.end()), wd(wr.begin(), wr.end()), bd(b.begin(), b.end()), y(out.numel());
        ref::conv2d_forward(y.data(), xd.data(), wd.data(), bd.data(), d, c.o, c.k, c.s, c.p);
        const float* got = run.forward();
        EXPECT_TENSOR_NEAR(got, y.data(), y.size(), 2e-6, "bf16 conv " + std::to_string(c.c) + "->" + std::to_string(c.o));
        std::vector<double> exact(out.numel()), xf(x.begin(), x.end()), wf(w.begin(), w.end());
        ref::conv2d_forward(exact.data(), xf.data(), wf.data(), bd.data(), d, c.o, c.k, c.s, c.p);
        EXPECT_GT(max_rel_error(got, exact.data(), exact.size()), 1e-4) << "bf16 rounding did not happen";
    }
}

namespace {

// A bf16 convolution whose output an fp32 one reads (8 input channels: under kBf16MinChannels).
Graph bf16_then_fp32() {
    Graph g(16, 12, 12);
    ValueId x = g.relu(g.conv(g.input(), {8, 3, 1, 1}, "a"));
    x = g.relu(g.conv(x, {32, 3, 1, 1}, "b"));
    g.set_output(g.linear(g.global_avg_pool(x), 10, "fc"));
    return g;
}

}  // namespace

// Every convolution of the three networks, and of a bf16 convolution feeding an fp32 one, on a
// real kernel in bf16, training and evaluation: none on oneDNN's reference loops (as an fp32
// convolution reading NHWC and writing nChw16c would be). Where the CPU has no native bf16, the
// bf16 convolutions run oneDNN's emulated or reference kernels by design, so only the fp32 ones
// are held to it there.
TEST(Bf16, NoConvolutionOnReferenceKernels) {
    for (const std::string model : {"d2l", "paper", "torchvision", "bf16 then fp32"})
        for (const bool training : {true, false}) {
            Net net = model == "bf16 then fp32" ? Net(bf16_then_fp32()) : build_net(load_model(model), model == "d2l" ? 96 : 224);
            net.set_options(bf16());
            net.set_training(training);
            net.set_batch(2);
            int checked = 0;
            for (const auto& op : net.ops()) {
                if (op->attributes().kind != OpAttributes::conv) continue;
                const bool bf16_kernel = op->inputs[0]->shape.c >= kBf16MinChannels && !op->auxiliary;
                if (bf16_kernel && !native_bf16()) continue;
                EXPECT_EQ(op->kernels().find("ref"), std::string::npos)
                    << model << (training ? " training: " : " evaluation: ") << op->describe() << ": " << op->kernels();
                ++checked;
            }
            EXPECT_GT(checked, 0) << model;
        }
}

// Training in bf16 (mixed precision): the input's and the weights' gradients against the reference
// in double on bf16-rounded operands: backward-data reads the output's gradient and the weights in
// bf16, backward-weights the input and the output's gradient; both sum in f32. The op's values are
// f32 NCHW here, so the conversions to bf16 NHWC and the input gradient's reorder back all run.
TEST(Bf16, ConvBackwardMatchesReferenceOnRoundedInputs) {
    for (const ConvCase& c : kConvCases) {
        const ref::Dims d = c.in();
        const Shape out = c.out();
        const std::unique_ptr<OpRunner> runner = c.runner(/*training=*/true);
        OpRunner& run = *runner;
        const auto x = random_vector<float>(d.numel(), 21), w = random_vector<float>(size_t(c.o) * c.c * c.k * c.k, 22, 0.2),
                   b = random_vector<float>(size_t(c.o), 23), dy = random_vector<float>(out.numel(), 24);
        run.set_input(0, x);
        run.set_param(0, w);
        run.set_param(1, b);
        run.forward();
        run.backward(dy);
        const std::string what = c.what();
        auto doubles = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
        const std::vector<double> xr = doubles(rounded(x)), wr = doubles(rounded(w)), dyr = doubles(rounded(dy));
        std::vector<double> dx(d.numel()), dw(w.size()), db(b.size());
        ref::conv2d_backward(dx.data(), dw.data(), db.data(), dyr.data(), xr.data(), wr.data(), d, c.o, c.k, c.s, c.p);
        EXPECT_TENSOR_NEAR(run.input_grad(0), dx.data(), dx.size(), 1e-5, what + ": input gradient");
        EXPECT_TENSOR_NEAR(run.param_grad(0), dw.data(), dw.size(), 1e-5, what + ": weights' gradient");
        EXPECT_TENSOR_NEAR(run.param_grad(1), db.data(), db.size(), 1e-5, what + ": bias gradient");
        const std::vector<double> xf = doubles(x), wf = doubles(w), dyf = doubles(dy);
        ref::conv2d_backward(dx.data(), dw.data(), db.data(), dyf.data(), xf.data(), wf.data(), d, c.o, c.k, c.s, c.p);
        EXPECT_GT(max_rel_error(run.input_grad(0), dx.data(), dx.size()), 1e-4) << what << ": backward-data not in bf16";
        EXPECT_GT(max_rel_error(run.param_grad(0), dw.data(), dw.size()), 1e-4) << what << ": backward-weights not in bf16";
    }
}

// The paper's network (LRN stays f32 between bf16 convolutions) and torchvision's (batch norm
// after every convolution: f32 NHWC values, each convolution converting its input): the same
// logits as in fp32 up to bf16's rounding, at batch 2 (every op on all threads).
TEST(Bf16, PaperAndTorchvisionNetsNearFp32) {
    for (const std::string model : {"paper", "torchvision"}) {
        std::vector<float> logits[2];
        for (int b = 0; b < 2; ++b) {
            Net net = build_net(load_model(model), 224);
            init_params(net.params(), 7);
            net.set_training(false);
            Options o;
            o.precision = b ? Precision::bf16 : Precision::fp32;
            net.set_options(o);
            net.set_batch(2);
            const auto images = random_vector<float>(size_t(2) * net.input_shape().per_image(), 8);
            const float* out = net.forward(images.data());
            logits[b].assign(out, out + 2 * net.classes());
        }
        const double err = max_rel_error(logits[1].data(), logits[0].data(), logits[0].size());
        std::printf("%s: bf16 against fp32 logits: %.3g\n", model.c_str(), err);
        EXPECT_LE(err, 1e-2) << model;
        EXPECT_GT(err, 0) << model << ": bf16 computed the fp32 bits";
    }
}


// The trainer's epochs: evaluation (a resumed run's first test pass), training, evaluation,
// training again. bf16 convolutions make backward primitives for training only, so each change
// plans again; the steps compute the same gradients, and evaluation the same logits.
TEST(Bf16, TrainingAndEvaluationPlanAgain) {
    Net net = d2l_googlenet();
    init_params(net.params(), 3);
    net.set_options(bf16());
    net.set_training(false);
    net.set_batch(2);  // planned for evaluation
    const auto images = random_vector<float>(size_t(2) * net.input_shape().per_image(), 4, 0.5);
    const std::vector<int> labels{1, 7};
    auto step_gradients = [&] {
        net.set_training(true);
        net.forward(images.data());
        net.loss(labels.data());
        net.backward();
        const Param& p = net.params().param(2);  // a bf16 convolution's weights
        return std::vector<float>(net.params().grad(2), net.params().grad(2) + p.size);
    };
    auto evaluation_logits = [&] {
        net.set_training(false);
        const float* logits = net.forward(images.data());
        return std::vector<float>(logits, logits + 2 * net.classes());
    };
    const std::vector<float> logits = evaluation_logits();
    const std::vector<float> first = step_gradients();
    EXPECT_TENSOR_NEAR(evaluation_logits().data(), logits.data(), logits.size(), 0, "logits after training");
    const std::vector<float> again = step_gradients();
    EXPECT_TENSOR_NEAR(again.data(), first.data(), first.size(), 0, "gradients after evaluation");
    EXPECT_TRUE(std::any_of(first.begin(), first.end(), [](float g) { return g != 0.f; })) << "no gradient: the test tells nothing";
}

// torchvision's network: batch norm and ReLU between bf16 convolutions run on bf16 values (as
// autocast runs them), each op's input and output of one type; the auxiliary heads stay f32.
TEST(Bf16, TypesOfTorchvision) {
    const Net net = build_net(load_model("torchvision"), 224);
    const Graph& g = net.graph();
    std::vector<FusedOp> ops = fuse_ops(g);
    std::vector<Layout> layouts = choose_layouts(g, ops, Layout::blocked, 16);
    const std::vector<DataType> types = choose_types(g, ops, layouts, kBf16MinChannels);
    int bf16_norms = 0;
    for (const FusedOp& op : ops) {
        const OpAttributes::Kind kind = g.nodes()[op.node].op.kind;
        if (kind != OpAttributes::batch_norm && kind != OpAttributes::relu) continue;
        EXPECT_EQ(types[size_t(op.inputs[0])], types[size_t(op.output)]) << "node " << op.node;
        if (g.nodes()[op.node].auxiliary) EXPECT_EQ(types[size_t(op.output)], DataType::f32) << "node " << op.node;
        // 4b's and 4c's 24-channel ones: oneDNN's bf16 batch norm has no JIT kernel for them.
        if (g.shape(op.output).c % 16 != 0) EXPECT_EQ(types[size_t(op.output)], DataType::f32) << "node " << op.node;
        bf16_norms += kind == OpAttributes::batch_norm && types[size_t(op.output)] == DataType::bf16;
    }
    // 44 of the 57 on the main path: not the stem's first, nor those behind the last concatenation
    // (f32, as the global pool reads it).
    EXPECT_GE(bf16_norms, 40);

    // Planned for evaluation, without the auxiliary heads (which do not run then): what they read
    // (4a's and 4d's outputs) is bf16, not f32 for the heads' sake.
    Net eval = build_net(load_model("torchvision"), 96);
    init_params(eval.params(), 1);
    eval.set_options(bf16());
    eval.set_training(false);
    eval.set_batch(1);
    int read_by_heads = 0;
    for (const Node& node : g.nodes())
        for (ValueId in : node.inputs)
            if (node.auxiliary && !g.nodes()[size_t(in) - 1].auxiliary) {
                ++read_by_heads;
                EXPECT_EQ(eval.value(in).type, DataType::bf16) << "value " << in;
            }
    EXPECT_EQ(read_by_heads, 2);
    for (const Op* op : eval.ops()) EXPECT_FALSE(op->auxiliary) << op->describe();
}
