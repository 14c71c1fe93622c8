// Evaluation with the Inception paths side by side (Parallel::batch at batches too small to
// split) against the same network with every op on all threads: the same logits up to float
// rounding (1e-5 of the largest). Run with OMP_NUM_THREADS=2 (CTest sets it). At batch 1 the 3x3
// path's last convolution is split by output channels and each block's concatenation is copied
// by the threads that made its inputs; a wrong channel offset in the copies, a part left out, or
// a part that does not wait for its input break the logits by far more (checked).
#include <omp.h>

#include <random>

#include "googlenet/models.h"
#include "googlenet/train.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {

std::vector<float> random_images(const Net& net, int n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::vector<float> images(size_t(n) * net.input_shape().per_image());
    for (auto& v : images) v = u(rng);
    return images;
}

// The same model and weights twice, in evaluation; the second runs its paths side by side.
struct Pair {
    Net whole, paths;
    Pair(const std::string& model, int size, Precision precision = Precision::fp32, double tolerance = 1e-5)
        : whole(build_net(load_model(model), size)), paths(build_net(load_model(model), size)), tolerance(tolerance) {
        init_params(whole.params(), 3);
        init_params(paths.params(), 3);
        for (Net* n : {&whole, &paths}) n->set_training(false);
        Options o;
        o.precision = precision;
        o.parallel = Parallel::ops;
        whole.set_options(o);
        o.parallel = Parallel::batch;
        paths.set_options(o);
    }
    double tolerance;
    void expect_same_logits(int batch, unsigned seed, const std::string& what) {
        ASSERT_GE(omp_get_max_threads(), 2) << "run with OMP_NUM_THREADS=2";
        whole.set_batch(batch);
        paths.set_batch(batch);
        ASSERT_TRUE(paths.execution().paths_side_by_side) << what;
        ASSERT_FALSE(whole.execution().paths_side_by_side) << what;
        const auto images = random_images(whole, batch, seed);
        const size_t n = size_t(batch) * size_t(whole.classes());
        const float* out = whole.forward(images.data());
        const std::vector<float> expected(out, out + n);
        // Twice: the first pass also times the tasks and spreads them again.
        for (int pass = 0; pass < 2; ++pass)
            EXPECT_TENSOR_NEAR(paths.forward(images.data()), expected.data(), n, tolerance, what + " pass " + std::to_string(pass));
    }
};

TEST(Paths, D2lBatchOneMatchesEveryOpOnAllThreads) {
    Pair p("d2l", 96);
    p.expect_same_logits(1, 1, "d2l batch 1");
    p.expect_same_logits(1, 2, "d2l batch 1, other images");
}

// In bf16 (its convolutions are not split by output channels): one thread's kernels may sum in
// another order than two threads', and a bf16 rounding that flips moves a value by bf16's step, so
// the logits agree to bf16's precision rather than f32's.
TEST(Paths, Bf16MatchesEveryOpOnAllThreads) {
    Pair p("d2l", 96, Precision::bf16, 1e-2);
    p.expect_same_logits(1, 1, "d2l bf16 batch 1");
    p.expect_same_logits(3, 3, "d2l bf16 batch 3");
}

// Above batch 1 the output channels are not one run per block: paths only, nothing split.
TEST(Paths, SmallBatchesMatch) {
    Pair p("d2l", 96);
    p.expect_same_logits(3, 3, "d2l batch 3");
    p.expect_same_logits(2 * Net::kSplitMinImages - 1, 4, "d2l batch 15");
}

// LRN, dropout (the identity here), the auxiliary heads (not run in evaluation), 5x5 paths.
TEST(Paths, PaperNetMatches) {
    Pair p("paper", 112);
    p.expect_same_logits(1, 5, "paper batch 1");
}

TEST(Paths, BatchNormNetMatches) {
    Pair p("torchvision", 96);
    p.expect_same_logits(1, 6, "torchvision batch 1");
}

// New weights reach every thread's parts (their transformed and reordered weights are redone),
// and switching to training and back replans.
TEST(Paths, NewWeightsAndTrainingInBetween) {
    Pair p("d2l", 96);
    p.expect_same_logits(1, 7, "before");
    for (Net* n : {&p.whole, &p.paths}) {
        init_params(n->params(), 9);
        n->weights_changed();
    }
    p.expect_same_logits(1, 8, "new weights");
    p.paths.set_training(true);
    p.paths.forward(random_images(p.whole, 1, 9).data());
    EXPECT_FALSE(p.paths.execution().paths_side_by_side);
    p.paths.set_training(false);
    p.expect_same_logits(1, 10, "after training");
}

TEST(Paths, OnlyForSmallEvaluationBatches) {
    Net net = build_net(load_model("d2l"), 96);
    init_params(net.params(), 1);
    net.set_options({0, Parallel::batch});
    net.set_batch(1);
    EXPECT_FALSE(net.execution().paths_side_by_side);  // training
    net.set_training(false);
    net.set_batch(1);
    EXPECT_TRUE(net.execution().paths_side_by_side);
    // One thread: nothing to run side by side; the next forward replans, and again with two.
    const int threads = omp_get_max_threads();
    const auto image = random_images(net, 1, 11);
    net.set_options({1, Parallel::batch});
    net.forward(image.data());
    EXPECT_FALSE(net.execution().paths_side_by_side);
    net.set_options({threads, Parallel::batch});
    net.forward(image.data());
    EXPECT_TRUE(net.execution().paths_side_by_side);
    net.set_batch(Net::kSplitMinImages * omp_get_max_threads());
    EXPECT_FALSE(net.execution().paths_side_by_side);
    EXPECT_TRUE(net.execution().batch_split);
    net.set_options({0, Parallel::ops});
    net.set_batch(1);
    EXPECT_FALSE(net.execution().paths_side_by_side);

    // Batch norm: in training no split (each copy's statistics would be its share's) and no
    // paths side by side either (one thread per op would leave the cores uneven on a large
    // batch); in evaluation, on its running statistics, the split as for any network.
    Net bn = build_net(load_model("torchvision"), 96);
    init_params(bn.params(), 1);
    bn.set_options({0, Parallel::batch});
    bn.set_batch(Net::kSplitMinImages * omp_get_max_threads());
    EXPECT_FALSE(bn.execution().batch_split);
    EXPECT_FALSE(bn.execution().paths_side_by_side);
    bn.set_training(false);
    bn.set_batch(Net::kSplitMinImages * omp_get_max_threads());
    EXPECT_TRUE(bn.execution().batch_split);
}

}  // namespace
