// Batch norm folded into the convolution before it, in evaluation (Options::fold_batch_norm,
// src/passes/fusion.h): torchvision's network with random running statistics, folded against the
// same network with every batch norm on its own (whose evaluation mode test_ops_pytorch holds to
// PyTorch), on each executor: every op on all threads, the paths side by side at batch 1 (each
// part folds its own output channels), the batch split; in fp32 and bf16. Folding changes one
// rounding per weight, so fp32 logits agree to 1e-4 of the largest.
#include <omp.h>

#include <random>

#include "googlenet/models.h"
#include "googlenet/onnx.h"
#include "googlenet/train.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {

std::vector<float> uniform(size_t n, unsigned seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

// Batch norm's scale, shift and running statistics drawn away from the identity they start at,
// so that a fold that drops any of them moves the logits.
void randomize_norms(ParamStore& ps, unsigned seed) {
    for (int i = 0; i < int(ps.list().size()); ++i) {
        const Param& p = ps.param(i);
        if (!p.constant_init) continue;
        const bool scale = p.init_value == 1.f;
        const auto v = uniform(p.size, seed + unsigned(i), scale ? 0.5f : -0.5f, scale ? 1.5f : 0.5f);
        std::copy(v.begin(), v.end(), ps.value(i));
    }
    for (int i = 0; i < int(ps.buffer_list().size()); ++i) {
        const Param& b = ps.buffer_list()[size_t(i)];
        const bool mean = b.name.find("running_mean") != std::string::npos, var = b.name.find("running_var") != std::string::npos;
        if (!mean && !var) continue;
        const auto v = uniform(b.size, seed + 1000 + unsigned(i), mean ? -0.3f : 0.5f, mean ? 0.3f : 2.f);
        std::copy(v.begin(), v.end(), ps.buffer(i));
    }
}

struct FoldPair {
    Net folded, unfolded;
    explicit FoldPair(Options o = {})
        : folded(build_net(load_model("torchvision"), 96)), unfolded(build_net(load_model("torchvision"), 96)) {
        for (Net* n : {&folded, &unfolded}) {
            init_params(n->params(), 5);
            randomize_norms(n->params(), 6);
            n->set_training(false);
        }
        folded.set_options(o);
        o.fold_batch_norm = false;
        unfolded.set_options(o);
    }
    void expect_same_logits(int batch, unsigned seed, double tolerance, const std::string& what) {
        for (Net* n : {&folded, &unfolded}) n->set_batch(batch);
        const auto images = uniform(size_t(batch) * folded.input_shape().per_image(), seed, 0.f, 1.f);
        const size_t n = size_t(batch) * size_t(folded.classes());
        const float* out = unfolded.forward(images.data());
        const std::vector<float> expected(out, out + n);
        for (int pass = 0; pass < 2; ++pass)  // the second reuses the folded weights
            EXPECT_TENSOR_NEAR(folded.forward(images.data()), expected.data(), n, tolerance, what + " pass " + std::to_string(pass));
    }
};

// torchvision's network has 57 convolutions, each followed by a batch norm, and one more in each
// auxiliary head (whose ops evaluation leaves out).
constexpr int kNorms = 57, kNormsInTraining = 59;

int folded_convolutions(const Net& net) {
    int count = 0;
    for (const Op* op : net.ops()) count += op->attributes().folded_norm;
    return count;
}

int batch_norms(const Net& net) {
    int count = 0;
    for (const Op* op : net.ops()) count += op->attributes().kind == OpAttributes::batch_norm;
    return count;
}

TEST(FoldBatchNorm, MatchesTheUnfoldedNetworkOnEveryExecutor) {
    ASSERT_GE(omp_get_max_threads(), 2) << "run with OMP_NUM_THREADS=2";
    FoldPair p(Options{0, Parallel::batch});
    p.expect_same_logits(3, 1, 1e-4, "batch 3, every op on all threads");
    EXPECT_EQ(folded_convolutions(p.folded), kNorms);
    EXPECT_EQ(batch_norms(p.folded), 0);
    EXPECT_EQ(batch_norms(p.unfolded), kNorms);
    EXPECT_EQ(p.folded.ops()[0]->describe(), "conv+batch-norm+relu 7x7/2 3->64");
    p.expect_same_logits(1, 2, 1e-4, "batch 1, paths side by side");
    EXPECT_TRUE(p.folded.execution().paths_side_by_side);
    p.expect_same_logits(2 * Net::kSplitMinImages, 3, 1e-4, "batch split");
    EXPECT_TRUE(p.folded.execution().batch_split);
}

TEST(FoldBatchNorm, Bf16MatchesTheUnfoldedNetwork) {
    Options o;
    o.precision = Precision::bf16;
    FoldPair p(o);
    p.expect_same_logits(4, 4, 2e-2, "bf16 batch 4");
    EXPECT_EQ(folded_convolutions(p.folded), kNorms);
}

// The folded weights are made again when the weights change (weights_changed, set_training),
// and training runs every batch norm on its own again, on the batch's statistics.
TEST(FoldBatchNorm, FoldsAgainAfterNewStatisticsAndTraining) {
    FoldPair p;
    p.expect_same_logits(2, 5, 1e-4, "first statistics");
    for (Net* n : {&p.folded, &p.unfolded}) {
        randomize_norms(n->params(), 7);
        n->weights_changed();
    }
    p.expect_same_logits(2, 6, 1e-4, "new statistics");

    const auto images = uniform(2 * p.folded.input_shape().per_image(), 7, 0.f, 1.f);
    const std::vector<int> labels{1, 2};
    for (Net* n : {&p.folded, &p.unfolded}) {
        n->set_training(true);
        n->forward(images.data());
    }
    EXPECT_EQ(folded_convolutions(p.folded), 0);
    EXPECT_EQ(batch_norms(p.folded), kNormsInTraining);
    const size_t n = 2 * size_t(p.folded.classes());
    EXPECT_TENSOR_NEAR(p.folded.forward(images.data()), p.unfolded.forward(images.data()), n, 0.0, "training");
    for (Net* n : {&p.folded, &p.unfolded}) n->set_training(false);
    p.expect_same_logits(2, 8, 1e-4, "evaluation after training (statistics moved)");
}

// A network with batch norm but no auxiliary heads also plans again between evaluation and
// training: after a folded evaluation, training runs the batch norm on the batch's statistics.
TEST(FoldBatchNorm, ASmallNetworkTrainsUnfoldedAfterEvaluation) {
    Graph g(3, 8, 8);
    const ValueId x = g.relu(g.batch_norm(g.conv(g.input(), {16, 3, 1, 1, false}, "a"), 1e-3f, 0.1f, "bn"));
    g.set_output(g.linear(g.global_avg_pool(x), 4, "fc"));
    Net folded(g), unfolded(g);
    Options off;
    off.fold_batch_norm = false;
    unfolded.set_options(off);
    const auto images = uniform(4 * 3 * 64, 11, 0.f, 1.f);
    for (Net* n : {&folded, &unfolded}) {
        init_params(n->params(), 12);
        randomize_norms(n->params(), 13);
        n->set_batch(4);
        n->set_training(false);
        n->forward(images.data());
        EXPECT_EQ(folded_convolutions(*n), n == &folded ? 1 : 0) << "evaluation plans again, with the batch norm folded";
        n->set_training(true);
    }
    EXPECT_TENSOR_NEAR(folded.forward(images.data()), unfolded.forward(images.data()), 16, 0.0, "training after evaluation");
    EXPECT_EQ(folded_convolutions(folded), 0);
}

// The ONNX exporter writes the unfolded network: on a plan with folded convolutions it refuses,
// naming the convolution, rather than leave the batch norms out.
TEST(FoldBatchNorm, ExportRefusesAFoldedPlan) {
    FoldPair p;
    p.folded.set_batch(1);
    expect_error([&] { export_onnx(p.folded, "folded", temp_path("folded.onnx")); }, "has its batch norm folded in");
    p.folded.set_training(true);
    p.folded.set_batch(1);
    EXPECT_NO_THROW(export_onnx(p.folded, "training plan", temp_path("training.onnx")));
}

// A folded convolution has no backward; without folding, backward in evaluation works.
TEST(FoldBatchNorm, BackwardInEvaluationNeedsItOff) {
    FoldPair p;
    const auto images = uniform(2 * p.folded.input_shape().per_image(), 9, 0.f, 1.f);
    const std::vector<int> labels{3, 4};
    for (Net* n : {&p.folded, &p.unfolded}) {
        n->set_batch(2);
        n->forward(images.data());
        n->loss(labels.data());
    }
    EXPECT_NO_THROW(p.unfolded.backward());
    try {
        p.folded.backward();
        FAIL() << "backward through a folded batch norm";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("fold_batch_norm"), std::string::npos) << e.what();
    }
}

}  // namespace
