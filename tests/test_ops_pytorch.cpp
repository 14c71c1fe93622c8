// Each oneDNN-backed op, and each reference op, against PyTorch (fixtures/ops.safetensors).
// Tolerance: 1e-5 of each tensor's largest magnitude (see testing.h), forward and backward.
#include <tuple>

#include "googlenet/reference.h"
#include "op_runner.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {

constexpr double kTol = 1e-5;

const Fixture& ops() {
    static Fixture f("ops.safetensors");
    return f;
}

Shape shape_of(const LoadedTensor& t) {
    Shape s;
    s.n = int(t.shape.at(0));
    s.c = t.shape.size() > 1 ? int(t.shape[1]) : 1;
    s.h = t.shape.size() > 2 ? int(t.shape[2]) : 1;
    s.w = t.shape.size() > 3 ? int(t.shape[3]) : 1;
    return s;
}

// Runs `make` on case `name`'s inputs (in0..) and parameters, compares output and all gradients.
void check_case(const std::string& name, int n_inputs, int n_params,
                const std::function<std::unique_ptr<Op>(ParamStore&)>& make) {
    const Fixture& f = ops();
    std::vector<Shape> in_shapes;
    for (int i = 0; i < n_inputs; ++i) in_shapes.push_back(shape_of(f.at(name + ".in" + std::to_string(i))));
    OpRunner run(make, in_shapes, shape_of(f.at(name + ".out")));
    for (int i = 0; i < n_inputs; ++i) run.set_input(size_t(i), f[name + ".in" + std::to_string(i)]);
    for (int p = 0; p < n_params; ++p) run.set_param(p, f[name + ".in" + std::to_string(n_inputs + p)]);
    const auto& expected = f[name + ".out"];
    EXPECT_TENSOR_NEAR(run.forward(), expected.data(), expected.size(), kTol, name + " forward");
    run.backward(f[name + ".dout"]);
    for (int i = 0; i < n_inputs; ++i) {
        const auto& g = f[name + ".grad" + std::to_string(i)];
        EXPECT_TENSOR_NEAR(run.input_grad(size_t(i)), g.data(), g.size(), kTol, name + " d input " + std::to_string(i));
    }
    for (int p = 0; p < n_params; ++p) {
        const auto& g = f[name + ".grad" + std::to_string(n_inputs + p)];
        EXPECT_TENSOR_NEAR(run.param_grad(p), g.data(), g.size(), kTol, name + " d " + run.params().param(p).name);
    }
}

struct ConvCase {
    const char* name;
    int out, k, s, p;
};
const ConvCase kConvCases[] = {
    {"conv_7x7s2", 4, 7, 2, 3}, {"conv_1x1", 3, 1, 1, 0}, {"conv_3x3", 5, 3, 1, 1}, {"conv_5x5", 3, 5, 1, 2}};

}  // namespace

TEST(OpsVsPyTorch, Conv) {
    for (const auto& c : kConvCases) {
        const int cin = shape_of(ops().at(std::string(c.name) + ".in0")).c;
        check_case(c.name, 1, 2, [&](ParamStore& ps) { return make_conv(ps, cin, {c.out, c.k, c.s, c.p}, "w"); });
    }
}

TEST(OpsVsPyTorch, Relu) { check_case("relu", 1, 0, [](ParamStore&) { return make_relu(); }); }

TEST(OpsVsPyTorch, MaxPool) {
    check_case("maxpool_3s2p1", 1, 0, [](ParamStore&) { return make_max_pool(3, 2, 1); });
    check_case("maxpool_3s1p1", 1, 0, [](ParamStore&) { return make_max_pool(3, 1, 1); });
}

TEST(OpsVsPyTorch, AvgPool) {
    check_case("avgpool_3s2p1", 1, 0, [](ParamStore&) { return make_avg_pool(3, 3, 2, 1); });
    check_case("avgpool_global", 1, 0, [](ParamStore&) { return make_avg_pool(5, 5, 1, 0); });
}

TEST(OpsVsPyTorch, CeilModeMaxPool) {
    check_case("maxpool_3s2_ceil", 1, 0, [](ParamStore&) { return make_max_pool(3, 2, 0, true); });
    check_case("maxpool_2s2p1_ceil", 1, 0, [](ParamStore&) { return make_max_pool(2, 2, 1, true); });
}

TEST(OpsVsPyTorch, StridedAvgPool) {
    check_case("avgpool_5s3", 1, 0, [](ParamStore&) { return make_avg_pool(5, 5, 3, 0); });
}

TEST(OpsVsPyTorch, Lrn) {
    check_case("lrn_paper", 1, 0, [](ParamStore&) { return make_lrn(5, 1e-4f, 0.75f, 1.f); });
    check_case("lrn_strong", 1, 0, [](ParamStore&) { return make_lrn(3, 0.5f, 0.75f, 2.f); });
}

TEST(OpsVsPyTorch, BatchNormInTraining) {
    check_case("batchnorm", 1, 2, [](ParamStore& ps) { return make_batch_norm(ps, 4, 1e-3f, 0.1f, "bn"); });
}

TEST(OpsVsPyTorch, AdaptiveAvgPool) {
    check_case("adaptive_avgpool_14to4", 1, 0, [](ParamStore&) { return make_adaptive_avg_pool(4, 4); });
    check_case("adaptive_avgpool_6to4", 1, 0, [](ParamStore&) { return make_adaptive_avg_pool(4, 4); });
}

TEST(OpsVsPyTorch, LinearFlattensItsInput) {
    check_case("linear", 1, 2, [](ParamStore& ps) { return make_linear(ps, 16, 5, "fc"); });
}

TEST(OpsVsPyTorch, Concat) { check_case("concat", 3, 0, [](ParamStore&) { return make_concat(); }); }

TEST(OpsVsPyTorch, SoftmaxCrossEntropy) {
    const Fixture& f = ops();
    const auto& logits = f["ce.logits"];
    std::vector<int> labels;
    for (float y : f["ce.labels"]) labels.push_back(int(y));
    std::vector<float> grad(logits.size());
    const float loss = softmax_cross_entropy(logits.data(), labels.data(), 6, 10, grad.data());
    EXPECT_NEAR(loss, f["ce.loss"][0], 1e-6 * std::fabs(f["ce.loss"][0]));
    EXPECT_TENSOR_NEAR(grad.data(), f["ce.grad"].data(), grad.size(), kTol, "ce gradient");
    labels[2] = 10;
    EXPECT_THROW(softmax_cross_entropy(logits.data(), labels.data(), 6, 10, grad.data()), Error);
}

// The oracle itself must agree with PyTorch, or agreeing with it proves nothing.
TEST(ReferenceVsPyTorch, ConvAndPools) {
    const Fixture& f = ops();
    for (const auto& c : kConvCases) {
        const std::string n = c.name;
        const Shape s = shape_of(f.at(n + ".in0"));
        const ref::Dims d{s.n, s.c, s.h, s.w};
        std::vector<float> y(f[n + ".out"].size()), dx(s.numel()), dw(f[n + ".in1"].size()), db(c.out);
        ref::conv2d_forward(y.data(), f[n + ".in0"].data(), f[n + ".in1"].data(), f[n + ".in2"].data(), d, c.out, c.k, c.s, c.p);
        EXPECT_TENSOR_NEAR(y.data(), f[n + ".out"].data(), y.size(), kTol, n + " forward");
        ref::conv2d_backward(dx.data(), dw.data(), db.data(), f[n + ".dout"].data(), f[n + ".in0"].data(),
                             f[n + ".in1"].data(), d, c.out, c.k, c.s, c.p);
        EXPECT_TENSOR_NEAR(dx.data(), f[n + ".grad0"].data(), dx.size(), kTol, n + " dx");
        EXPECT_TENSOR_NEAR(dw.data(), f[n + ".grad1"].data(), dw.size(), kTol, n + " dw");
        EXPECT_TENSOR_NEAR(db.data(), f[n + ".grad2"].data(), db.size(), kTol, n + " db");
    }
    const Shape s = shape_of(f.at("maxpool_3s2p1.in0"));
    const ref::Dims d{s.n, s.c, s.h, s.w};
    std::vector<float> y(f["maxpool_3s2p1.out"].size()), dx(s.numel());
    ref::max_pool_forward(y.data(), f["maxpool_3s2p1.in0"].data(), d, 3, 2, 1);
    EXPECT_TENSOR_NEAR(y.data(), f["maxpool_3s2p1.out"].data(), y.size(), kTol, "max-pool forward");
    ref::max_pool_backward(dx.data(), f["maxpool_3s2p1.dout"].data(), f["maxpool_3s2p1.in0"].data(), d, 3, 2, 1);
    EXPECT_TENSOR_NEAR(dx.data(), f["maxpool_3s2p1.grad0"].data(), dx.size(), kTol, "max-pool dx");
    ref::avg_pool_forward(y.data(), f["avgpool_3s2p1.in0"].data(), d, 3, 3, 2, 1);
    EXPECT_TENSOR_NEAR(y.data(), f["avgpool_3s2p1.out"].data(), y.size(), kTol, "avg-pool forward");
    ref::avg_pool_backward(dx.data(), f["avgpool_3s2p1.dout"].data(), d, 3, 3, 2, 1);
    EXPECT_TENSOR_NEAR(dx.data(), f["avgpool_3s2p1.grad0"].data(), dx.size(), kTol, "avg-pool dx");
}

TEST(ReferenceVsPyTorch, CeilPoolStridedAvgPoolLrn) {
    const Fixture& f = ops();
    auto dims = [&](const std::string& n) {
        const Shape s = shape_of(f.at(n + ".in0"));
        return ref::Dims{s.n, s.c, s.h, s.w};
    };
    for (auto [name, k, st, p] : {std::tuple{"maxpool_3s2_ceil", 3, 2, 0}, std::tuple{"maxpool_2s2p1_ceil", 2, 2, 1}}) {
        const std::string n = name;
        std::vector<float> y(f[n + ".out"].size()), dx(f[n + ".in0"].size());
        ref::max_pool_forward(y.data(), f[n + ".in0"].data(), dims(n), k, st, p, true);
        EXPECT_TENSOR_NEAR(y.data(), f[n + ".out"].data(), y.size(), kTol, n + " forward");
        ref::max_pool_backward(dx.data(), f[n + ".dout"].data(), f[n + ".in0"].data(), dims(n), k, st, p, true);
        EXPECT_TENSOR_NEAR(dx.data(), f[n + ".grad0"].data(), dx.size(), kTol, n + " dx");
    }
    {
        std::vector<float> y(f["avgpool_5s3.out"].size()), dx(f["avgpool_5s3.in0"].size());
        ref::avg_pool_forward(y.data(), f["avgpool_5s3.in0"].data(), dims("avgpool_5s3"), 5, 5, 3, 0);
        EXPECT_TENSOR_NEAR(y.data(), f["avgpool_5s3.out"].data(), y.size(), kTol, "avgpool_5s3 forward");
        ref::avg_pool_backward(dx.data(), f["avgpool_5s3.dout"].data(), dims("avgpool_5s3"), 5, 5, 3, 0);
        EXPECT_TENSOR_NEAR(dx.data(), f["avgpool_5s3.grad0"].data(), dx.size(), kTol, "avgpool_5s3 dx");
    }
    for (auto [name, size, alpha, beta, k] :
         {std::tuple{"lrn_paper", 5, 1e-4f, 0.75f, 1.f}, std::tuple{"lrn_strong", 3, 0.5f, 0.75f, 2.f}}) {
        const std::string n = name;
        std::vector<float> y(f[n + ".out"].size()), dx(y.size());
        ref::lrn_forward(y.data(), f[n + ".in0"].data(), dims(n), size, alpha, beta, k);
        EXPECT_TENSOR_NEAR(y.data(), f[n + ".out"].data(), y.size(), kTol, n + " forward");
        ref::lrn_backward(dx.data(), f[n + ".dout"].data(), f[n + ".in0"].data(), dims(n), size, alpha, beta, k);
        EXPECT_TENSOR_NEAR(dx.data(), f[n + ".grad0"].data(), dx.size(), kTol, n + " dx");
    }
}

TEST(ReferenceVsPyTorch, BatchNorm) {
    const Fixture& f = ops();
    const Shape s = shape_of(f.at("batchnorm.in0"));
    const ref::Dims d{s.n, s.c, s.h, s.w};
    std::vector<float> y(s.numel()), dx(s.numel()), dw(4), db(4);
    ref::batch_norm_forward(y.data(), f["batchnorm.in0"].data(), f["batchnorm.in1"].data(), f["batchnorm.in2"].data(), d, 1e-3f);
    EXPECT_TENSOR_NEAR(y.data(), f["batchnorm.out"].data(), y.size(), kTol, "batch-norm forward");
    ref::batch_norm_backward(dx.data(), dw.data(), db.data(), f["batchnorm.dout"].data(), f["batchnorm.in0"].data(),
                             f["batchnorm.in1"].data(), d, 1e-3f);
    EXPECT_TENSOR_NEAR(dx.data(), f["batchnorm.grad0"].data(), dx.size(), kTol, "batch-norm dx");
    EXPECT_TENSOR_NEAR(dw.data(), f["batchnorm.grad1"].data(), dw.size(), kTol, "batch-norm dw");
    EXPECT_TENSOR_NEAR(db.data(), f["batchnorm.grad2"].data(), db.size(), kTol, "batch-norm db");
}

TEST(ReferenceVsPyTorch, LinearAndLoss) {
    const Fixture& f = ops();
    std::vector<float> y(15), dx(48), dw(80), db(5);
    ref::linear_forward(y.data(), f["linear.in0"].data(), f["linear.in1"].data(), f["linear.in2"].data(), 3, 16, 5);
    EXPECT_TENSOR_NEAR(y.data(), f["linear.out"].data(), y.size(), kTol, "linear forward");
    ref::linear_backward(dx.data(), dw.data(), db.data(), f["linear.dout"].data(), f["linear.in0"].data(),
                         f["linear.in1"].data(), 3, 16, 5);
    EXPECT_TENSOR_NEAR(dx.data(), f["linear.grad0"].data(), dx.size(), kTol, "linear dx");
    EXPECT_TENSOR_NEAR(dw.data(), f["linear.grad1"].data(), dw.size(), kTol, "linear dw");
    std::vector<int> labels;
    for (float l : f["ce.labels"]) labels.push_back(int(l));
    std::vector<float> grad(60);
    const float loss = ref::softmax_cross_entropy(grad.data(), f["ce.logits"].data(), labels.data(), 6, 10);
    EXPECT_NEAR(loss, f["ce.loss"][0], 1e-5);
    EXPECT_TENSOR_NEAR(grad.data(), f["ce.grad"].data(), grad.size(), kTol, "ce gradient");
}
