// int8 inference (Options::precision int8): the convolution's int8 path against a reference that
// quantizes the same way, calibration's ranges, the int8 plan's types and scales, and whole
// networks near their fp32 logits on every executor.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <omp.h>

#include "core/runtime.h"
#include "googlenet/models.h"
#include "googlenet/net.h"
#include "googlenet/quantize.h"
#include "googlenet/reference.h"
#include "googlenet/train.h"
#include "ops/ops.h"
#include "passes/fusion.h"
#include "passes/layout.h"
#include "passes/precision.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {

struct ConvCase {
    int n, c, h, o, k, s, p;
    bool f32_input, signed_input, f32_output, relu;
    std::string what() const {
        return "int8 conv " + std::to_string(c) + "->" + std::to_string(o) + " " + std::to_string(k) + "x" + std::to_string(k) +
               "/" + std::to_string(s) + (f32_input ? (signed_input ? ", signed f32 input" : ", f32 input") : ", u8 input") +
               (f32_output ? ", f32 output" : ", u8 output") + (relu ? ", relu" : "");
    }
};

// One convolution run alone on values laid out and scaled as an int8 plan lays them out.
class Int8ConvRun {
public:
    explicit Int8ConvRun(const ConvCase& c) : c_(c), rt_(params_, state_) {
        op_ = make_conv(params_, c.c, {c.o, c.k, c.s, c.p}, "w");
        params_.allocate();
        state_.training = false;
        rt_.options.precision = Precision::int8;
        const int oh = (c.h + 2 * c.p - c.k) / c.s + 1;
        in_.shape = {c.n, c.c, c.h, c.h};
        out_.shape = {c.n, c.o, oh, oh};
        in_.type = c.f32_input ? DataType::f32 : DataType::u8;
        in_.layout = c.f32_input ? Layout::nchw : Layout::nhwc;
        in_.signed_codes = c.signed_input;
        out_.type = c.f32_output ? DataType::f32 : DataType::u8;
        out_.layout = Layout::nhwc;
        for (Value* v : {&in_, &out_}) {
            buffers_.emplace_back(storage_of(v->shape, v->layout, v->type));
            v->data = TensorView(buffers_.back().data(), buffers_.back().size());
        }
        op_->inputs = {&in_};
        op_->output = &out_;
        op_->fuse_relu(c.relu);
        op_->compute = DataType::s8;
    }
    Value& in() { return in_; }
    Value& out() { return out_; }
    ParamStore& params() { return params_; }
    void prepare() { op_->prepare(rt_); }
    std::string kernels() const { return op_->kernels(); }
    void forward() {
        op_->forward(rt_);
        rt_.stream.wait();
    }

private:
    ConvCase c_;
    ParamStore params_;
    RunState state_;
    Runtime rt_;
    std::unique_ptr<Op> op_;
    Value in_, out_;
    std::vector<Buffer> buffers_;
};

// (n, c, h, o, k, s, p): a 3x3, a 5x5 and a 1x1 on u8 codes, D2L's 1-channel stem and torchvision's
// 3-channel one on f32 images (the latter signed), one writing f32 for an f32 reader.
const ConvCase kCases[] = {
    {2, 32, 12, 48, 3, 1, 1, false, false, false, true}, {3, 16, 9, 24, 5, 1, 2, false, false, false, true},
    {2, 64, 6, 32, 1, 1, 0, false, false, false, true},  {2, 1, 24, 64, 7, 2, 3, true, false, false, true},
    {2, 3, 20, 16, 7, 2, 3, true, true, false, true},    {2, 32, 6, 40, 3, 1, 1, false, false, true, false},
};

std::vector<float> random_uniform(size_t n, uint32_t seed, float lo, float hi) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = d(gen);
    return v;
}

}  // namespace

// Each case against the reference in double on the codes oneDNN is given: the input's codes (or
// the f32 input quantized as quantize() does), the weights quantized per output channel with
// weight_scale(), the bias in f32, then the ReLU and the output's own quantization. oneDNN applies
// the scales in f32, so a code may differ by one where the exact value lies near a rounding tie;
// nearly all are equal.
TEST(Int8, ConvMatchesReferenceThatQuantizesAlike) {
    for (const ConvCase& c : kCases) {
        Int8ConvRun run(c);
        const ref::Dims d{c.n, c.c, c.h, c.h};
        const size_t in_count = d.numel(), w_count = size_t(c.o) * c.c * c.k * c.k;
        // Real inputs, their codes at the input's scale, in the layout the run holds them.
        const float top = 3.f;
        std::vector<float> x = random_uniform(in_count, 7, c.signed_input ? -top : 0.f, top);
        const float sx = top / (c.signed_input ? 127.f : 255.f);
        run.in().scale = sx;
        std::vector<double> xq(in_count);  // dequantized codes, NCHW (a signed input's around 128)
        for (size_t i = 0; i < in_count; ++i)
            xq[i] = double(sx) * (c.signed_input ? quantize(x[i], sx, -128, 127) : quantize(x[i], sx, 0, 255));
        if (c.f32_input) {
            std::memcpy(run.in().data.data(), x.data(), in_count * sizeof(float));
        } else {
            uint8_t* codes = reinterpret_cast<uint8_t*>(run.in().data.data());
            for (int n = 0; n < c.n; ++n)
                for (int ch = 0; ch < c.c; ++ch)
                    for (int p = 0; p < c.h * c.h; ++p) {
                        const size_t nchw = (size_t(n) * c.c + ch) * c.h * c.h + p, nhwc = (size_t(n) * c.h * c.h + p) * c.c + ch;
                        codes[nhwc] = uint8_t(quantize(x[nchw], sx, 0, 255));
                    }
        }
        const std::vector<float> w = random_uniform(w_count, 8, -0.3f, 0.3f), b = random_uniform(size_t(c.o), 9, -0.5f, 0.5f);
        std::memcpy(run.params().value(0), w.data(), w_count * sizeof(float));
        std::memcpy(run.params().value(1), b.data(), b.size() * sizeof(float));
        std::vector<double> wq(w_count), bd(b.begin(), b.end());
        const size_t per = w_count / size_t(c.o);
        const int limit = weight_code_limit();
        for (int o = 0; o < c.o; ++o) {
            const float s = weight_scale(w.data() + size_t(o) * per, per, limit);
            for (size_t i = size_t(o) * per; i < size_t(o + 1) * per; ++i) wq[i] = double(s) * quantize(w[i], s, -limit, limit);
        }
        const Shape out = run.out().shape;
        std::vector<double> y(out.numel());
        ref::conv2d_forward(y.data(), xq.data(), wq.data(), bd.data(), d, c.o, c.k, c.s, c.p);
        if (c.relu)
            for (double& v : y) v = std::max(v, 0.0);
        const double y_top = *std::max_element(y.begin(), y.end());
        ASSERT_GT(y_top, 0.0) << c.what();
        run.out().scale = c.f32_output ? 0.f : float(y_top / 255.0);
        run.prepare();
        run.forward();
        // Back to NCHW, as reals.
        std::vector<double> got(out.numel());
        const size_t hw = size_t(out.h) * out.w;
        for (int n = 0; n < out.n; ++n)
            for (int o = 0; o < out.c; ++o)
                for (size_t p = 0; p < hw; ++p) {
                    const size_t nchw = (size_t(n) * out.c + o) * hw + p, nhwc = (size_t(n) * hw + p) * out.c + o;
                    got[nchw] = c.f32_output ? double(run.out().data.data()[nhwc])
                                             : double(run.out().scale) * reinterpret_cast<const uint8_t*>(run.out().data.data())[nhwc];
                }
        if (c.f32_output) {
            EXPECT_TENSOR_NEAR(got.data(), y.data(), y.size(), 1e-5, c.what());
            continue;
        }
        size_t off_by_one = 0;
        double worst = 0;
        for (size_t i = 0; i < y.size(); ++i) {
            const double expected = double(run.out().scale) * quantize(float(y[i]), run.out().scale, 0, 255);
            const double units = std::fabs(got[i] - expected) / run.out().scale;
            worst = std::max(worst, std::isfinite(units) ? units : HUGE_VAL);
            off_by_one += units > 0.5;
        }
        EXPECT_LE(worst, 1.0 + 1e-6) << c.what() << ": codes more than one unit apart: " << worst;
        EXPECT_LE(off_by_one, y.size() / 100) << c.what() << ": " << off_by_one << " of " << y.size() << " codes one unit off";
        EXPECT_EQ(run.kernels().rfind("int8 ", 0), 0u) << run.kernels();
        EXPECT_EQ(run.kernels().find("ref"), std::string::npos) << c.what() << " on oneDNN's reference loop: " << run.kernels();
    }
}

namespace {

// A small network with each op the int8 plan treats apart: a convolution on the f32 image, a max
// pool and a concatenation between u8 values, a convolution without ReLU (its output stays f32),
// the global pool and the classifier.
Graph small_graph() {
    Graph g(1, 16, 16);
    ValueId x = g.max_pool(g.relu(g.conv(g.input(), {16, 3, 1, 1}, "a")), 3, 2, 1);
    const ValueId p1 = g.relu(g.conv(x, {16, 1, 1, 0}, "b")), p2 = g.relu(g.conv(x, {16, 3, 1, 1}, "c"));
    x = g.conv(g.concat({p1, p2}), {24, 3, 1, 1}, "d");
    g.set_output(g.linear(g.global_avg_pool(x), 10, "fc"));
    return g;
}

std::vector<float> images(const Net& net, int n, unsigned seed) {
    return random_uniform(size_t(n) * net.input_shape().per_image(), seed, 0.f, 1.f);
}

Net initialised(Net net, uint64_t seed) {
    init_params(net.params(), seed);
    return net;
}

}  // namespace

// calibrate() gives each value's least and greatest element over all the images, batch after
// batch, as an fp32 evaluation computes them, and leaves the net's options and mode as they were.
TEST(Int8, CalibrationGivesEachValuesRange) {
    Net net = initialised(Net(small_graph()), 3);
    Options o{0, Parallel::batch};
    net.set_options(o);
    const int n = 10;
    const std::vector<float> x = images(net, n, 4);
    const ActivationRanges r = calibrate(net, x.data(), n, 4);
    ASSERT_EQ(r.lo.size(), size_t(net.value_count()));
    EXPECT_EQ(r.lo[0], *std::min_element(x.begin(), x.end()));
    EXPECT_EQ(r.hi[0], *std::max_element(x.begin(), x.end()));
    EXPECT_TRUE(net.options() == o) << "options not restored";
    EXPECT_TRUE(net.training()) << "mode not restored";
    net.set_training(false);
    net.set_batch(n);
    const float* logits = net.forward(x.data());
    const size_t count = size_t(n) * 10;
    EXPECT_FLOAT_EQ(r.lo[size_t(net.output())], *std::min_element(logits, logits + count));
    EXPECT_FLOAT_EQ(r.hi[size_t(net.output())], *std::max_element(logits, logits + count));
    // Each ReLU'd convolution's range starts at 0 and the unrectified one goes below it.
    for (const Op* op : net.ops()) {
        if (op->attributes().kind != OpAttributes::conv) continue;
        const size_t v = size_t(op->output->id);
        EXPECT_GT(r.hi[v], 0.f) << op->describe();
        if (op->attributes().fused_relu) EXPECT_EQ(r.lo[v], 0.f) << op->describe();
        else EXPECT_LT(r.lo[v], 0.f) << op->describe();
    }
}

// The int8 plan of D2L's network: every convolution but the 1-channel stem computes in int8; what
// they, the max pools and the concatenations pass between them is u8 channels-last, one scale
// across each pool's and concatenation's values; the last block's paths write f32 for the global
// pool. The stem runs bf16 where bf16 takes 1 channel (AMX), its output and the max pool after it
// bf16, which the next convolution converts to codes; else f32.
TEST(Int8, TypesAndScalesOfD2l) {
    const Net net = d2l_googlenet();
    const Graph& g = net.graph();
    for (int bf16_min : {kBf16MinChannels, 1}) {
        std::vector<FusedOp> ops = fuse_ops(g, true);
        std::vector<Layout> layouts = choose_layouts(g, ops, Layout::blocked, 16);
        choose_int8_types(g, ops, layouts, kInt8MinChannels, bf16_min);
        const DataType stem = bf16_min == 1 ? DataType::bf16 : DataType::f32;
        EXPECT_EQ(ops[0].compute, stem);
        std::vector<Layout> again = choose_layouts(g, ops, Layout::blocked, 16);
        const std::vector<DataType> t = choose_int8_types(g, ops, again, kInt8MinChannels, bf16_min);
        EXPECT_EQ(t[size_t(ops[0].output)], stem) << "the stem's output";
        EXPECT_EQ(t[size_t(ops[1].output)], stem) << "the max pool after the stem";
        EXPECT_EQ(ops[2].compute, DataType::s8);
    }
    std::vector<FusedOp> ops = fuse_ops(g, true);
    std::vector<Layout> layouts = choose_layouts(g, ops, Layout::blocked, 16);
    const std::vector<DataType> types = choose_int8_types(g, ops, layouts, kInt8MinChannels, 1);
    int int8_convs = 0, f32_conv_outputs = 0;
    for (const FusedOp& op : ops) {
        const OpAttributes::Kind kind = g.nodes()[op.node].op.kind;
        EXPECT_EQ(op.compute == DataType::s8, kind == OpAttributes::conv && op.node != ops[0].node) << "node " << op.node;
        int8_convs += op.compute == DataType::s8;
        if (kind == OpAttributes::conv) {
            EXPECT_EQ(layouts[size_t(op.output)], Layout::nhwc);
            f32_conv_outputs += types[size_t(op.output)] == DataType::f32;
        }
        if (kind == OpAttributes::avg_pool || kind == OpAttributes::adaptive_avg_pool || kind == OpAttributes::linear)
            EXPECT_EQ(types[size_t(op.inputs[0])], DataType::f32) << "node " << op.node;
        if (kind == OpAttributes::max_pool || kind == OpAttributes::concat)
            for (ValueId v : op.inputs) EXPECT_EQ(types[size_t(v)], types[size_t(op.output)]) << "node " << op.node;
    }
    EXPECT_EQ(int8_convs, 56);
    EXPECT_EQ(f32_conv_outputs, 4);  // the last block's four paths
    EXPECT_EQ(types[size_t(g.input())], DataType::f32);
    // Scales from random ranges: one per pool or concatenation across its u8 values.
    std::vector<float> lo(types.size(), 0.f), hi = random_uniform(types.size(), 5, 0.5f, 8.f);
    lo[0] = -1.f;  // a signed image
    std::vector<bool> signed_codes;
    const std::vector<float> scales = int8_scales(ops, types, lo, hi, signed_codes);
    EXPECT_TRUE(signed_codes[0]);
    EXPECT_FLOAT_EQ(scales[0], std::max(hi[0], 1.f) / 127.f);
    int shared = 0;
    for (const FusedOp& op : ops) {
        if (types[size_t(op.output)] != DataType::u8) continue;
        EXPECT_GE(scales[size_t(op.output)] * 255.f, hi[size_t(op.output)] * (1 - 1e-6f)) << "node " << op.node;
        for (ValueId v : op.inputs)
            if (types[size_t(v)] == DataType::u8 && g.nodes()[op.node].op.kind != OpAttributes::conv) {
                EXPECT_EQ(scales[size_t(v)], scales[size_t(op.output)]) << "node " << op.node;
                ++shared;
            }
    }
    EXPECT_GT(shared, 40);
}

namespace {

// Fashion-MNIST-like inputs and a network whose convolutions' outputs are far from zero: Xavier's
// random weights, calibrated on the same images.
struct Int8Pair {
    Net fp32, int8;
    std::vector<float> x;
    explicit Int8Pair(Options o, int n) : fp32(initialised(d2l_googlenet(), 11)), int8(initialised(d2l_googlenet(), 11)) {
        x = images(fp32, n, 12);
        int8.set_quantization(calibrate(int8, x.data(), n, 16));
        fp32.set_options(o);
        o.precision = Precision::int8;
        int8.set_options(o);
        for (Net* net : {&fp32, &int8}) net->set_training(false);
    }
    std::vector<float> logits(Net& net, int first, int n) {
        net.set_batch(n);
        const float* y = net.forward(x.data() + size_t(first) * net.input_shape().per_image());
        return std::vector<float>(y, y + size_t(n) * size_t(net.classes()));
    }
};

}  // namespace

// D2L's whole network in int8 near its fp32 logits (57 convolutions each rounding its input,
// weights and output to 8 bits: within 5% of the logits' range, about twice what it measures), and the same on every executor:
// every op on all threads, the batch split, the paths side by side at batch 1.
TEST(Int8, D2lNearFp32OnEveryExecutor) {
    ASSERT_GE(omp_get_max_threads(), 2) << "run with OMP_NUM_THREADS=2";
    const int n = 2 * Net::kSplitMinImages;
    Int8Pair p(Options{0, Parallel::ops}, n);
    const std::vector<float> expected = p.logits(p.fp32, 0, n), ops = p.logits(p.int8, 0, n);
    EXPECT_TENSOR_NEAR(ops.data(), expected.data(), expected.size(), 0.05, "int8 vs fp32, every op on all threads");
    EXPECT_GT(max_rel_error(ops.data(), expected.data(), expected.size()), 1e-4) << "no int8 rounding happened";
    Options split{0, Parallel::batch};
    split.precision = Precision::int8;
    p.int8.set_options(split);
    const std::vector<float> batch_split = p.logits(p.int8, 0, n);
    EXPECT_TRUE(p.int8.execution().batch_split);
    EXPECT_TENSOR_NEAR(batch_split.data(), ops.data(), ops.size(), 1e-5, "int8: batch split vs every op on all threads");
    const std::vector<float> one = p.logits(p.int8, 3, 1);
    EXPECT_TRUE(p.int8.execution().paths_side_by_side);
    EXPECT_TENSOR_NEAR(one.data(), ops.data() + 3 * 10, 10, 1e-5, "int8: batch 1, paths side by side");
    int int8_convs = 0;
    for (const Op* op : p.int8.ops())
        if (op->compute == DataType::s8) {
            EXPECT_EQ(op->kernels().rfind("int8 ", 0), 0u) << op->describe() << ": " << op->kernels();
            ++int8_convs;
        }
    EXPECT_EQ(int8_convs, 56);  // all but the stem
}

// int8 is for inference with calibrated ranges: training, a net without ranges and ranges of
// another network are errors that say so.
TEST(Int8, ErrorsSayWhatIsMissing) {
    Net net = initialised(Net(small_graph()), 3);
    Options o;
    o.precision = Precision::int8;
    net.set_options(o);
    net.set_training(false);
    const std::vector<float> x = images(net, 2, 1);
    expect_error([&] { net.set_batch(2); }, "needs the activations' ranges");
    ActivationRanges wrong;
    wrong.lo.assign(3, 0.f), wrong.hi.assign(3, 1.f);
    expect_error([&] { net.set_quantization(wrong); }, "3 for a network of");
    ActivationRanges r = calibrate(net, x.data(), 2);
    r.hi[2] = std::nanf("");
    expect_error([&] { net.set_quantization(r); }, "value 2");
    net.set_quantization(calibrate(net, x.data(), 2));
    net.set_batch(2);
    EXPECT_NO_THROW(net.forward(x.data()));
    net.set_training(true);
    expect_error([&] { net.forward(x.data()); }, "inference only");
}
