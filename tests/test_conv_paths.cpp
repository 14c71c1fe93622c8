// Every convolution path the engine really runs, checked where it runs it. D2L's network (and the
// paper's at 224x224) takes one step (training, or a forward pass) in each configuration users run; every convolution reports
// the kernel of each pass (oneDNN's implementation, or our Winograd tile), and for each distinct
// combination the cheapest layer that runs it is rebuilt alone, at the same batch (the copy's
// share under the batch split), layouts and thread count, shown to choose the same kernels, and
// its forward, backward-data and backward-weights compared with oneDNN's direct convolution in a
// plain layout (another implementation: the reference loops would take minutes at batch 128).
// ops_reference checks every Winograd tile on small shapes against the reference loops; this
// test is what sees the tiles the cost model picks only at large batches (F(6x6) backward-weights).
#include <omp.h>

#include <map>
#include <set>

#include "core/runtime.h"
#include "execution/backward_step.h"
#include "googlenet/summary.h"
#include "googlenet/models.h"
#include "googlenet/train.h"
#include "ops/ops.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;
using dnnl::memory;

namespace {

// A convolution as the network ran it.
struct ConvCase {
    std::string label, kernels;  // kernels: "forward | backward-data | backward-weights"
    Shape in, out;
    Layout in_layout, out_layout;
    int kernel = 0, stride = 1, pad = 0, threads = 1;
    bool bias = true, input_grad = true, training = true;
    int64_t macs = 0;
};

struct Config {
    std::string name, model;
    int size;
    bool training, split;
    int batch;
};

// The convolutions of one step of the network in `config`, with the kernels each pass ran.
std::vector<ConvCase> run_network(const Config& config) {
    const ModelSpec spec = load_model(config.model);
    Net net = build_net(spec, config.size);
    omp_set_num_threads(2);
    net.set_options({0, config.split ? Parallel::batch : Parallel::ops});
    net.set_training(config.training);
    init_params(net.params(), 1);
    net.set_batch(config.batch);
    const auto images = random_vector<float>(size_t(config.batch) * spec.in_channels * config.size * config.size, 2);
    std::vector<int> labels(size_t(config.batch));
    for (int i = 0; i < config.batch; ++i) labels[size_t(i)] = i % spec.classes;
    net.set_profiling(true);
    net.forward(images.data());
    if (config.training) {
        net.loss(labels.data());
        net.backward();
    }
    std::vector<ConvCase> cases;
    for (const OpTime& t : net.op_times()) {
        const Op& op = *t.op;
        if (op.attributes().kind != OpAttributes::conv) continue;
        ConvCase c;
        c.label = config.name + ": " + label(net, op);
        c.kernels = op.kernels();
        c.in = op.inputs[0]->shape, c.out = op.output->shape;
        c.in_layout = op.inputs[0]->layout, c.out_layout = op.output->layout;
        const OpAttributes a = op.attributes();
        c.kernel = a.kernel_h, c.stride = a.stride, c.pad = a.pad;
        c.bias = op.param_indices().size() == 2;
        c.input_grad = op.inputs[0]->needs_grad;
        c.threads = net.execution().batch_split ? 1 : 2;  // each copy of a split batch runs on one thread
        c.training = config.training;
        c.macs = op.macs_per_image() * c.out.n;
        cases.push_back(c);
    }
    return cases;
}

// A tensor as oneDNN sees it, filled from (or read into) plain NCHW.
struct Tensor {
    memory::desc md;
    Buffer buffer;
    TensorView view;
    Tensor(const Shape& s, Layout layout) : md(desc_of(s, layout)), buffer(storage_of(s, layout)), view(buffer.data(), buffer.size()) {}
};

void reorder(const dnnl::engine& engine, const memory::desc& from, const float* src, const memory::desc& to, float* dst) {
    dnnl::stream stream(engine);
    memory a(from, engine, const_cast<float*>(src)), b(to, engine, dst);
    dnnl::reorder(a, b).execute(stream, a, b);
    stream.wait();
}

struct Results {
    std::vector<float> y, dx, dw, db;  // NCHW, OIHW
};

// The oracle: oneDNN's direct convolution, every tensor in `layout` (nchw or nhwc).
Results oracle(const ConvCase& c, Layout layout, const std::vector<float>& x, const std::vector<float>& w,
               const std::vector<float>& b, const std::vector<float>& dy, std::string& impl) {
    const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    const memory::desc x_md = desc_of(c.in, layout), y_md = desc_of(c.out, layout);
    const memory::desc x_plain = desc_of(c.in, Layout::nchw), y_plain = desc_of(c.out, Layout::nchw);
    const memory::desc w_md({c.out.c, c.in.c, c.kernel, c.kernel}, memory::data_type::f32, memory::format_tag::oihw);
    const memory::desc b_md = c.bias ? memory::desc({c.out.c}, memory::data_type::f32, memory::format_tag::a) : memory::desc();
    const memory::dims strides{c.stride, c.stride}, pad{c.pad, c.pad};
    auto fwd = dnnl::convolution_forward::primitive_desc(engine, dnnl::prop_kind::forward_training,
                                                         dnnl::algorithm::convolution_direct, x_md, w_md, b_md, y_md,
                                                         strides, pad, pad);
    auto bwd = dnnl::convolution_backward_data::primitive_desc(engine, dnnl::algorithm::convolution_direct, x_md, w_md,
                                                               y_md, strides, pad, pad, fwd);
    auto bww = dnnl::convolution_backward_weights::primitive_desc(engine, dnnl::algorithm::convolution_direct, x_md, w_md,
                                                                  b_md, y_md, strides, pad, pad, fwd);
    impl = std::string(fwd.impl_info_str()) + " | " + bwd.impl_info_str() + " | " + bww.impl_info_str();
    std::vector<float> xs(x.size()), ys(c.out.numel()), dys(dy.size()), dxs(x.size());
    reorder(engine, x_plain, x.data(), x_md, xs.data());
    reorder(engine, y_plain, dy.data(), y_md, dys.data());
    Results r;
    r.y.resize(c.out.numel()), r.dx.resize(x.size()), r.dw.resize(w.size()), r.db.resize(b.size());
    auto mem = [&](const memory::desc& md, const float* p) { return memory(md, engine, const_cast<float*>(p)); };
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, mem(x_md, xs.data())}, {DNNL_ARG_WEIGHTS, mem(w_md, w.data())},
                                         {DNNL_ARG_DST, mem(y_md, ys.data())}};
    if (c.bias) args[DNNL_ARG_BIAS] = mem(b_md, b.data());
    dnnl::convolution_forward(fwd).execute(stream, args);
    dnnl::convolution_backward_data(bwd).execute(stream, {{DNNL_ARG_DIFF_DST, mem(y_md, dys.data())},
                                                          {DNNL_ARG_WEIGHTS, mem(w_md, w.data())},
                                                          {DNNL_ARG_DIFF_SRC, mem(x_md, dxs.data())}});
    std::unordered_map<int, memory> wargs{{DNNL_ARG_SRC, mem(x_md, xs.data())}, {DNNL_ARG_DIFF_DST, mem(y_md, dys.data())},
                                          {DNNL_ARG_DIFF_WEIGHTS, mem(w_md, r.dw.data())}};
    if (c.bias) wargs[DNNL_ARG_DIFF_BIAS] = mem(b_md, r.db.data());
    dnnl::convolution_backward_weights(bww).execute(stream, wargs);
    stream.wait();
    reorder(engine, y_md, ys.data(), y_plain, r.y.data());
    reorder(engine, x_md, dxs.data(), x_plain, r.dx.data());
    return r;
}

// The engine's convolution op alone, as the network ran it.
Results ours(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
             const std::vector<float>& dy, std::string& kernels) {
    omp_set_num_threads(c.threads);
    ParamStore params;
    std::unique_ptr<Op> op = make_conv(params, c.in.c, ConvSpec{c.out.c, c.kernel, c.stride, c.pad, c.bias}, "conv");
    params.allocate();
    std::copy(w.begin(), w.end(), params.value(0));
    if (c.bias) std::copy(b.begin(), b.end(), params.value(1));
    RunState state;
    state.training = c.training;
    Runtime rt(params, state);
    Value in, out;
    in.shape = c.in, in.layout = c.in_layout, in.needs_grad = c.input_grad;
    out.shape = c.out, out.layout = c.out_layout;
    Tensor xin(c.in, c.in_layout), dxin(c.in, c.in_layout), yout(c.out, c.out_layout), dyout(c.out, c.out_layout);
    in.data = xin.view, in.grad = dxin.view, out.data = yout.view, out.grad = dyout.view;
    op->inputs = {&in};
    op->output = &out;
    op->prepare(rt);
    const std::vector<Op*> ops{op.get()};
    BackwardStep step;
    step.prepare(ops, rt);
    kernels = ops[0]->kernels();
    const memory::desc x_plain = desc_of(c.in, Layout::nchw), y_plain = desc_of(c.out, Layout::nchw);
    reorder(rt.engine, x_plain, x.data(), xin.md, xin.buffer.data());
    reorder(rt.engine, y_plain, dy.data(), dyout.md, dyout.buffer.data());
    ops[0]->forward(rt);
    rt.stream.wait();
    Results r;
    r.y.resize(c.out.numel()), r.dx.resize(x.size());
    reorder(rt.engine, yout.md, yout.buffer.data(), y_plain, r.y.data());
    if (!c.training) {
        omp_set_num_threads(2);
        return r;
    }
    in.grad_written = false;
    step.run(0, *ops[0], rt);
    if (c.input_grad) reorder(rt.engine, dxin.md, dxin.buffer.data(), x_plain, r.dx.data());
    r.dw.assign(params.grad(0), params.grad(0) + w.size());
    if (c.bias) r.db.assign(params.grad(1), params.grad(1) + b.size());
    omp_set_num_threads(2);
    return r;
}

std::string pass_kernel(const std::string& kernels, int pass) {
    size_t begin = 0;
    for (int i = 0; i < pass; ++i) begin = kernels.find(" | ", begin) + 3;
    return kernels.substr(begin, kernels.find(" | ", begin) - begin);
}

}  // namespace

TEST(ConvPaths, EveryKernelTheNetworkRunsAgainstOneDnnsDirectConvolution) {
    // D2L's network as the quick start trains it and as it is deployed; the paper's at 224x224
    // (other map sizes: 56x56 to 7x7, 5x5 kernels on 28x28 and smaller).
    const std::vector<Config> configs = {{"d2l train, batch 128 split in two", "d2l", 96, true, true, 128},
                                         {"d2l train, batch 128 on all threads", "d2l", 96, true, false, 128},
                                         {"d2l infer, batch 128 split in two", "d2l", 96, false, true, 128},
                                         {"d2l infer, batch 1 on all threads", "d2l", 96, false, false, 1},
                                         {"paper train, batch 16 split in two", "paper", 224, true, true, 16},
                                         {"paper infer, batch 1 on all threads", "paper", 224, false, false, 1}};
    // The cheapest layer for each combination of kernels (and kernel size: 3x3 and 5x5 Winograd
    // have their own tables).
    std::map<std::string, ConvCase> chosen;
    std::set<std::string> winograd_seen;
    for (const Config& config : configs)
        for (const ConvCase& c : run_network(config)) {
            const std::string key = std::to_string(c.kernel) + "x" + std::to_string(c.kernel) + " " +
                                    (c.training ? "train " : "infer ") + std::to_string(c.threads) + " " + c.kernels;
            if (!chosen.count(key) || c.macs < chosen[key].macs) chosen[key] = c;
            for (int pass = 0; pass < (c.training ? 3 : 1); ++pass)
                if (pass_kernel(c.kernels, pass).rfind("winograd", 0) == 0)
                    winograd_seen.insert(std::to_string(c.kernel) + "x" + std::to_string(c.kernel) + " " +
                                         std::to_string(pass) + " " + pass_kernel(c.kernels, pass));
        }
    // The tiles D2L's layers take (WinogradConv::tile_for): if the cost model changes, this list
    // says which paths the test covers now.
    for (const char* path : {"3x3 0 winograd F(4x4)", "3x3 0 winograd F(3x3)", "3x3 1 winograd F(6x6)",
                             "3x3 2 winograd F(6x6)", "3x3 2 winograd F(3x3)", "5x5 0 winograd F(2x2)",
                             "5x5 1 winograd F(4x4)", "5x5 2 winograd F(4x4)"})
        EXPECT_TRUE(winograd_seen.count(path)) << "no layer ran " << path << " (pass 0: forward, 1: backward-data, 2: backward-weights)";
    EXPECT_GE(chosen.size(), 10u);
    for (const auto& [key, c] : chosen) {
        SCOPED_TRACE(c.label + ", " + std::to_string(c.in.n) + " images, " + std::to_string(c.threads) + " thread(s): " + c.kernels);
        const double scale = 1.0 / std::sqrt(double(c.in.c) * c.kernel * c.kernel);
        const auto x = random_vector<float>(c.in.numel(), 10), w = random_vector<float>(size_t(c.out.c) * c.in.c * c.kernel * c.kernel, 11, scale),
                   b = random_vector<float>(c.bias ? size_t(c.out.c) : 0, 12), dy = random_vector<float>(c.out.numel(), 13);
        std::string kernels;
        const Results got = ours(c, x, w, b, dy, kernels);
        ASSERT_EQ(kernels, c.kernels) << "the layer alone chose other kernels than in the network";
        // The oracle in a plain layout; in NHWC where one of our passes is oneDNN's own NCHW kernel.
        std::string oracle_impl;
        const Layout plain = c.kernels.find("nchw ") != std::string::npos || c.in_layout == Layout::nchw ? Layout::nhwc : Layout::nchw;
        const Results want = oracle(c, plain, x, w, b, dy, oracle_impl);
        std::printf("%-66s %s thread(s), %s (oracle: %s)\n", c.label.c_str(), c.threads == 1 ? "1" : "2",
                    c.training ? c.kernels.c_str() : pass_kernel(c.kernels, 0).c_str(), oracle_impl.c_str());
        for (int pass = 0; pass < (c.training ? 3 : 1); ++pass)
            EXPECT_NE(pass_kernel(kernels, pass), pass_kernel(oracle_impl, pass)) << "the oracle runs the same kernel";
        // Winograd's transforms round more than the direct method (testing.h's measure, relative
        // to the tensor's largest magnitude); oneDNN's direct kernels agree with each other to 1e-5,
        // but for backward-weights, whose float sums run over every output position of the batch
        // (the stem's: 128 x 48 x 48; measured 1.6e-5).
        auto tol = [&](int pass) {
            return pass_kernel(kernels, pass).rfind("winograd", 0) == 0 ? 1e-4 : pass == 2 ? 5e-5 : 1e-5;
        };
        EXPECT_TENSOR_NEAR(got.y.data(), want.y.data(), want.y.size(), tol(0), "forward");
        if (!c.training) continue;  // inference runs only the forward pass
        if (c.input_grad) EXPECT_TENSOR_NEAR(got.dx.data(), want.dx.data(), want.dx.size(), tol(1), "backward-data");
        EXPECT_TENSOR_NEAR(got.dw.data(), want.dw.data(), want.dw.size(), tol(2), "backward-weights");
        if (c.bias) EXPECT_TENSOR_NEAR(got.db.data(), want.db.data(), want.db.size(), tol(2), "bias gradient");
    }
}
