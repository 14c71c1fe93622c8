// Finite-difference gradient checks of every reference op, in double precision. With the
// reference proven here and the oneDNN ops matched to the reference and to PyTorch elsewhere,
// each layer's backward is backed by a gradient check.
// Each check uses the scalar L = sum(y * r) for a fixed random r, so dL/dy = r, and compares the
// analytic gradient with (L(x + h) - L(x - h)) / 2h, h = 1e-6, to 1e-6 of its largest magnitude.
#include <functional>

#include "googlenet/reference.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {

using Vec = std::vector<double>;

// Numerical gradient of `loss` with respect to `x` (changed in place and restored).
Vec numeric_grad(Vec& x, const std::function<double()>& loss) {
    const double h = 1e-6;
    Vec g(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
        const double keep = x[i];
        x[i] = keep + h;
        const double up = loss();
        x[i] = keep - h;
        const double down = loss();
        x[i] = keep;
        g[i] = (up - down) / (2 * h);
    }
    return g;
}

double dot(const Vec& a, const Vec& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
    return s;
}

constexpr double kTol = 1e-6;

}  // namespace

TEST(GradCheck, Conv) {
    struct C { int n, c, h, w, o, k, s, p; };
    for (const C c : {C{2, 3, 7, 7, 4, 3, 2, 1}, C{1, 2, 6, 5, 3, 5, 1, 2}, C{2, 1, 9, 9, 2, 7, 2, 3}, C{1, 4, 3, 3, 2, 1, 1, 0}}) {
        const ref::Dims d{c.n, c.c, c.h, c.w};
        const int oh = ref::out_size(c.h, c.k, c.s, c.p), ow = ref::out_size(c.w, c.k, c.s, c.p);
        Vec x = random_vector<double>(d.numel(), 1), w = random_vector<double>(size_t(c.o) * c.c * c.k * c.k, 2),
            b = random_vector<double>(size_t(c.o), 3), r = random_vector<double>(size_t(c.n) * c.o * oh * ow, 4), y(r.size());
        auto loss = [&] {
            ref::conv2d_forward(y.data(), x.data(), w.data(), b.data(), d, c.o, c.k, c.s, c.p);
            return dot(y, r);
        };
        Vec dx(x.size()), dw(w.size()), db(b.size());
        ref::conv2d_backward(dx.data(), dw.data(), db.data(), r.data(), x.data(), w.data(), d, c.o, c.k, c.s, c.p);
        const Vec nx = numeric_grad(x, loss), nw = numeric_grad(w, loss), nb = numeric_grad(b, loss);
        EXPECT_TENSOR_NEAR(dx.data(), nx.data(), dx.size(), kTol, "conv dx");
        EXPECT_TENSOR_NEAR(dw.data(), nw.data(), dw.size(), kTol, "conv dw");
        EXPECT_TENSOR_NEAR(db.data(), nb.data(), db.size(), kTol, "conv db");
    }
}

TEST(GradCheck, ReluAwayFromZero) {
    Vec x = random_vector<double>(50, 5), r = random_vector<double>(50, 6), y(50), dx(50);
    for (auto& v : x) v += v > 0 ? 0.1 : -0.1;  // the kink at 0 has no derivative to check
    auto loss = [&] { ref::relu_forward(y.data(), x.data(), x.size()); return dot(y, r); };
    loss();
    ref::relu_backward(dx.data(), r.data(), y.data(), x.size());
    const Vec n = numeric_grad(x, loss);
    EXPECT_TENSOR_NEAR(dx.data(), n.data(), dx.size(), kTol, "relu dx");
}

TEST(GradCheck, Pools) {
    const ref::Dims d{2, 3, 7, 7};
    Vec x = random_vector<double>(d.numel(), 7), dx(x.size());
    for (auto [k, s, p] : {std::tuple{3, 2, 1}, std::tuple{3, 1, 1}, std::tuple{7, 1, 0}}) {
        const int o = ref::out_size(7, k, s, p);
        Vec r = random_vector<double>(size_t(2) * 3 * o * o, 8), y(r.size());
        auto max_loss = [&] { ref::max_pool_forward(y.data(), x.data(), d, k, s, p); return dot(y, r); };
        ref::max_pool_backward(dx.data(), r.data(), x.data(), d, k, s, p);
        Vec n = numeric_grad(x, max_loss);
        EXPECT_TENSOR_NEAR(dx.data(), n.data(), dx.size(), kTol, "max-pool dx");
        auto avg_loss = [&] { ref::avg_pool_forward(y.data(), x.data(), d, k, k, s, p); return dot(y, r); };
        ref::avg_pool_backward(dx.data(), r.data(), d, k, k, s, p);
        n = numeric_grad(x, avg_loss);
        EXPECT_TENSOR_NEAR(dx.data(), n.data(), dx.size(), kTol, "avg-pool dx");
    }
}

TEST(GradCheck, Linear) {
    const int n = 3, in = 7, out = 4;
    Vec x = random_vector<double>(n * in, 9), w = random_vector<double>(out * in, 10), b = random_vector<double>(out, 11),
        r = random_vector<double>(n * out, 12), y(n * out), dx(x.size()), dw(w.size()), db(b.size());
    auto loss = [&] { ref::linear_forward(y.data(), x.data(), w.data(), b.data(), n, in, out); return dot(y, r); };
    ref::linear_backward(dx.data(), dw.data(), db.data(), r.data(), x.data(), w.data(), n, in, out);
    const Vec nx = numeric_grad(x, loss), nw = numeric_grad(w, loss), nb = numeric_grad(b, loss);
    EXPECT_TENSOR_NEAR(dx.data(), nx.data(), dx.size(), kTol, "linear dx");
    EXPECT_TENSOR_NEAR(dw.data(), nw.data(), dw.size(), kTol, "linear dw");
    EXPECT_TENSOR_NEAR(db.data(), nb.data(), db.size(), kTol, "linear db");
}

TEST(GradCheck, Concat) {
    const int channels[] = {2, 1, 3}, hw = 4, n = 2;
    Vec a = random_vector<double>(n * 2 * hw, 13), b = random_vector<double>(n * 1 * hw, 14),
        c = random_vector<double>(n * 3 * hw, 15), r = random_vector<double>(n * 6 * hw, 16), y(r.size());
    auto loss = [&] {
        const double* xs[] = {a.data(), b.data(), c.data()};
        ref::concat_forward(y.data(), xs, channels, 3, n, hw);
        return dot(y, r);
    };
    Vec da(a.size()), dbv(b.size()), dc(c.size());
    double* dxs[] = {da.data(), dbv.data(), dc.data()};
    ref::concat_backward(dxs, r.data(), channels, 3, n, hw);
    const Vec na = numeric_grad(a, loss), nb = numeric_grad(b, loss), nc = numeric_grad(c, loss);
    EXPECT_TENSOR_NEAR(da.data(), na.data(), da.size(), kTol, "concat d input 0");
    EXPECT_TENSOR_NEAR(dbv.data(), nb.data(), dbv.size(), kTol, "concat d input 1");
    EXPECT_TENSOR_NEAR(dc.data(), nc.data(), dc.size(), kTol, "concat d input 2");
}

TEST(GradCheck, SoftmaxCrossEntropy) {
    const int n = 4, k = 5;
    Vec z = random_vector<double>(n * k, 17, 3.0), dz(z.size());
    const int labels[] = {0, 4, 2, 2};
    auto loss = [&] { return ref::softmax_cross_entropy<double>(nullptr, z.data(), labels, n, k); };
    ref::softmax_cross_entropy(dz.data(), z.data(), labels, n, k);
    const Vec nz = numeric_grad(z, loss);
    EXPECT_TENSOR_NEAR(dz.data(), nz.data(), dz.size(), kTol, "cross-entropy dlogits");
}

TEST(GradCheck, CeilModeMaxPool) {
    const ref::Dims d{2, 2, 5, 5};
    const int o = ref::pool_out_size(5, 2, 2, 1, true);
    ASSERT_EQ(o, 3);  // not 4: the fourth window would start in the right padding
    Vec x = random_vector<double>(d.numel(), 11), r = random_vector<double>(size_t(2 * 2 * o * o), 12), y(r.size());
    auto loss = [&] {
        ref::max_pool_forward(y.data(), x.data(), d, 2, 2, 1, true);
        return dot(y, r);
    };
    Vec dx(x.size());
    ref::max_pool_backward(dx.data(), r.data(), x.data(), d, 2, 2, 1, true);
    const Vec nx = numeric_grad(x, loss);
    EXPECT_TENSOR_NEAR(dx.data(), nx.data(), dx.size(), kTol, "ceil max-pool dx");
}

TEST(GradCheck, Lrn) {
    struct C { int size; double alpha, beta, k; };
    for (const C c : {C{5, 1e-4, 0.75, 1.0}, C{3, 0.5, 0.75, 2.0}, C{5, 0.8, 0.6, 1.5}}) {
        const ref::Dims d{2, 7, 3, 2};
        Vec x = random_vector<double>(d.numel(), 13), r = random_vector<double>(d.numel(), 14), y(r.size());
        auto loss = [&] {
            ref::lrn_forward(y.data(), x.data(), d, c.size, c.alpha, c.beta, c.k);
            return dot(y, r);
        };
        Vec dx(x.size());
        ref::lrn_backward(dx.data(), r.data(), x.data(), d, c.size, c.alpha, c.beta, c.k);
        const Vec nx = numeric_grad(x, loss);
        EXPECT_TENSOR_NEAR(dx.data(), nx.data(), dx.size(), kTol, "lrn dx, size " + std::to_string(c.size));
    }
}

TEST(GradCheck, BatchNorm) {
    const ref::Dims d{3, 2, 3, 2};
    Vec x = random_vector<double>(d.numel(), 15), w = random_vector<double>(2, 16), b = random_vector<double>(2, 17),
        r = random_vector<double>(d.numel(), 18), y(r.size());
    auto loss = [&] {
        ref::batch_norm_forward(y.data(), x.data(), w.data(), b.data(), d, 1e-3);
        return dot(y, r);
    };
    Vec dx(x.size()), dw(2), db(2);
    ref::batch_norm_backward(dx.data(), dw.data(), db.data(), r.data(), x.data(), w.data(), d, 1e-3);
    const Vec nx = numeric_grad(x, loss), nw = numeric_grad(w, loss), nb = numeric_grad(b, loss);
    EXPECT_TENSOR_NEAR(dx.data(), nx.data(), dx.size(), kTol, "batch-norm dx");
    EXPECT_TENSOR_NEAR(dw.data(), nw.data(), dw.size(), kTol, "batch-norm dw");
    EXPECT_TENSOR_NEAR(db.data(), nb.data(), db.size(), kTol, "batch-norm db");
}

TEST(GradCheck, AdaptiveAvgPool) {
    const ref::Dims d{2, 2, 7, 6};
    Vec x = random_vector<double>(d.numel(), 19), r = random_vector<double>(2 * 2 * 4 * 4, 20), y(r.size());
    auto loss = [&] {
        ref::adaptive_avg_pool_forward(y.data(), x.data(), d, 4, 4);
        return dot(y, r);
    };
    Vec dx(x.size());
    ref::adaptive_avg_pool_backward(dx.data(), r.data(), d, 4, 4);
    const Vec nx = numeric_grad(x, loss);
    EXPECT_TENSOR_NEAR(dx.data(), nx.data(), dx.size(), kTol, "adaptive avg-pool dx");
}

TEST(GradCheck, Normalize) {
    const ref::Dims d{2, 3, 4, 5};
    const float mean[] = {104.f, -1.5f, 0.25f}, stddev[] = {58.f, 0.5f, -2.f};
    Vec x = random_vector<double>(d.numel(), 21), r = random_vector<double>(d.numel(), 22), y(r.size());
    auto loss = [&] {
        ref::normalize_forward(y.data(), x.data(), mean, stddev, d);
        return dot(y, r);
    };
    Vec dx(x.size());
    ref::normalize_backward(dx.data(), r.data(), stddev, d);
    const Vec nx = numeric_grad(x, loss);
    EXPECT_TENSOR_NEAR(dx.data(), nx.data(), dx.size(), kTol, "normalize dx");
}
