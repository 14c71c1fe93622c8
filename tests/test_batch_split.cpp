// A batch split over the threads (Parallel::batch) against the same network running the
// whole batch with every op on all threads: the same logits, loss and weight gradients up to float
// rounding (the copies sum their images in another order). Run with OMP_NUM_THREADS=2 (CTest
// sets it), so that a batch of 17 is cut into shares of 9 and 8. Tolerances: logits and loss
// 1e-5, gradients 1e-4 (max |diff| / max |expected| per tensor); a share left unweighted, a
// dropout mask drawn by the copy's own index or a copy's gradients left out exceed them by orders
// of magnitude.
#include <omp.h>

#include <chrono>
#include <future>
#include <random>

#include "core/runtime.h"
#include "execution/split_share.h"
#include "googlenet/models.h"
#include "googlenet/train.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {

constexpr int kBatch = 17;

std::vector<float> random_images(const Net& net, int n) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::vector<float> images(size_t(n) * net.input_shape().per_image());
    for (auto& v : images) v = u(rng);
    return images;
}

std::vector<int> random_labels(const Net& net, int n) {
    std::mt19937 rng(8);
    std::vector<int> labels(static_cast<size_t>(n));
    for (auto& y : labels) y = int(rng() % uint32_t(net.classes()));
    return labels;
}

// Two copies of a model with the same weights, the second with its batch split.
struct Pair {
    Net whole, split;
    Pair(const ModelSpec& spec, int size, bool training)
        : whole(build_net(spec, size)), split(build_net(spec, size)) {
        init_params(whole.params(), 3);
        init_params(split.params(), 3);
        for (Net* n : {&whole, &split}) {
            n->set_training(training);
            n->set_random(11, 5);
        }
        split.set_options({0, Parallel::batch});
        whole.set_batch(kBatch);
        split.set_batch(kBatch);
    }
};

void expect_same_step(Pair& p) {
    ASSERT_GE(omp_get_max_threads(), 2) << "run with OMP_NUM_THREADS=2";
    ASSERT_TRUE(p.split.execution().batch_split);
    ASSERT_FALSE(p.whole.execution().batch_split);
    const auto images = random_images(p.whole, kBatch);
    const auto labels = random_labels(p.whole, kBatch);
    const size_t logits_size = size_t(kBatch) * size_t(p.whole.classes());
    const float* whole_out = p.whole.forward(images.data());
    const std::vector<float> whole_logits(whole_out, whole_out + logits_size);
    const float* split_logits = p.split.forward(images.data());
    EXPECT_TENSOR_NEAR(split_logits, whole_logits.data(), logits_size, 1e-5, "logits");
    const float whole_loss = p.whole.loss(labels.data()), split_loss = p.split.loss(labels.data());
    EXPECT_NEAR(split_loss, whole_loss, 1e-5 * std::fabs(whole_loss));
    p.whole.backward();
    p.split.backward();
    for (int i = 0; i < int(p.whole.params().list().size()); ++i) {
        const Param& param = p.whole.params().param(i);
        EXPECT_TENSOR_NEAR(p.split.params().grad(i), p.whole.params().grad(i), param.size, 1e-4, param.name);
    }
}

TEST(BatchSplit, D2lTrainingStepMatchesTheWholeBatch) {
    Pair p(load_model("d2l"), 96, true);
    expect_same_step(p);
}

// Dropout on (its masks must be the whole batch's) and the auxiliary classifiers' weighted losses;
// then the next step, whose masks the copies must draw anew from the step they are told.
TEST(BatchSplit, PaperTrainingStepWithDropoutAndAuxiliaryHeadsMatchesTheWholeBatch) {
    Pair p(load_model("paper"), 96, true);
    expect_same_step(p);
    for (Net* n : {&p.whole, &p.split}) n->set_random(11, 6);
    expect_same_step(p);
}

// With fewer threads allowed than asked (OMP_THREAD_LIMIT; CTest runs this case again as
// batch_split_thread_limit with OMP_NUM_THREADS=2 and OMP_THREAD_LIMIT=1), nets left at
// OMP_NUM_THREADS, as a library user leaves them, run on the threads OpenMP grants and compute
// what a net told to use that many computes (oneDNN's primitives made for more threads than run
// leave part of their work undone).
TEST(ThreadLimit, NetsRunOnTheThreadsOpenMpGrants) {
    const int asked = omp_get_max_threads(), granted = std::min(asked, omp_get_thread_limit());
    auto logits = [&](bool split, int threads) {
        omp_set_num_threads(threads);
        Net net = build_net(load_model("d2l"), 64);
        init_params(net.params(), 3);
        net.set_options({0, split ? Parallel::batch : Parallel::ops});
        net.set_batch(kBatch);
        EXPECT_EQ(net.execution().batch_split, split && granted > 1) << granted << " threads granted";
        const float* out = net.forward(random_images(net, kBatch).data());
        return std::vector<float>(out, out + size_t(kBatch) * size_t(net.classes()));
    };
    const std::vector<float> expected = logits(false, granted);
    for (bool split : {false, true}) {
        const std::vector<float> got = logits(split, asked);
        EXPECT_TENSOR_NEAR(got.data(), expected.data(), expected.size(), 1e-5, split ? "split" : "whole");
    }
    omp_set_num_threads(asked);
}

TEST(BatchSplit, EvaluationLogitsMatchTheWholeBatch) {
    Pair p(load_model("d2l"), 96, false);
    const auto images = random_images(p.whole, kBatch);
    const size_t n = size_t(kBatch) * size_t(p.whole.classes());
    const float* out = p.whole.forward(images.data());
    const std::vector<float> whole(out, out + n);
    EXPECT_TENSOR_NEAR(p.split.forward(images.data()), whole.data(), n, 1e-5, "evaluation logits");
}

TEST(BatchSplit, GivenLogitGradientAndEveryOpReportedOnce) {
    Pair p(load_model("d2l"), 64, true);
    const auto images = random_images(p.whole, kBatch);
    std::vector<float> dlogits(size_t(kBatch) * size_t(p.whole.classes()));
    std::mt19937 rng(9);
    std::normal_distribution<float> g(0.f, 1.f);
    for (auto& v : dlogits) v = g(rng);
    p.whole.forward(images.data());
    p.split.forward(images.data());
    p.whole.backward(dlogits.data());
    p.split.backward(dlogits.data());
    for (int i = 0; i < int(p.whole.params().list().size()); ++i) {
        const Param& param = p.whole.params().param(i);
        EXPECT_TENSOR_NEAR(p.split.params().grad(i), p.whole.params().grad(i), param.size, 1e-4, param.name);
    }
    p.split.forward(images.data());
    p.split.loss(random_labels(p.whole, kBatch).data());
    std::map<const Op*, int> reported;
    p.split.backward([&](const Op& op) { ++reported[&op]; });
    EXPECT_EQ(reported.size(), p.split.ops().size());
    for (const auto& [op, count] : reported) EXPECT_EQ(count, 1) << op->describe();
}

// Batch norm's statistics are the batch's: such a network, and batches too small to share, run whole.
TEST(BatchSplit, BatchNormAndSmallBatchesRunWhole) {
    Net bn = build_net(load_model("torchvision"), 96);
    init_params(bn.params(), 1);
    bn.set_options({0, Parallel::batch});
    bn.set_batch(32);
    EXPECT_FALSE(bn.execution().batch_split);

    Net small = build_net(load_model("d2l"), 96);
    init_params(small.params(), 1);
    small.set_options({0, Parallel::batch});
    small.set_batch(Net::kSplitMinImages * omp_get_max_threads() - 1);
    EXPECT_FALSE(small.execution().batch_split);
    small.set_batch(Net::kSplitMinImages * omp_get_max_threads());
    EXPECT_TRUE(small.execution().batch_split);
    small.set_options({0, Parallel::ops});
    small.set_batch(Net::kSplitMinImages * omp_get_max_threads());
    EXPECT_FALSE(small.execution().batch_split);
}

}  // namespace

// The copies meet inside Winograd layers (SplitShare's Meeting). A copy that fails never comes:
// the others must stop waiting and throw once the executor marks the failure, or the step never
// ends (as it did with OpenMP's barrier there).
TEST(BatchSplit, CopiesWaitingForAFailedCopyStop) {
    Meeting meeting(2);
    for (int round = 0; round < 3; ++round) {  // both arrive: the meeting completes, again and again
        auto other = std::async(std::launch::async, [&] { meeting.meet(); });
        meeting.meet();
        other.get();
    }
    auto waiting = std::async(std::launch::async, [&] { meeting.meet(); });
    EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);  // it waits for the other copy
    meeting.set_failed(true);
    if (waiting.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        ADD_FAILURE() << "a copy kept waiting for a failed one";
        meeting.set_failed(false);
        meeting.meet();  // release it, so the test can end
    }
    EXPECT_THROW(waiting.get(), Error);
}

// Two copies' ops share one buffer only where both ask with the same key, and each gets its part.
TEST(BatchSplit, SharedWorkOnlyWhereTheCopiesAskAlike) {
    SplitShare share(2);
    auto ask = [&](int copy, uint64_t key) { return share.of(copy).begin(key, 64); };
    auto other = std::async(std::launch::async, [&] { return ask(1, 7); });
    const auto mine = ask(0, 7);
    const auto theirs = other.get();
    ASSERT_TRUE(mine && theirs);
    EXPECT_EQ(mine->buffer, theirs->buffer);
    EXPECT_EQ(mine->index, 0);
    EXPECT_EQ(theirs->index, 1);
    EXPECT_EQ(theirs->count, 2);
    auto done = std::async(std::launch::async, [&] { share.of(1).end(); });
    share.of(0).end();
    done.get();
    for (uint64_t their_key : {uint64_t(8), uint64_t(0)}) {
        auto unlike = std::async(std::launch::async, [&] { return ask(1, their_key); });
        EXPECT_FALSE(ask(0, their_key == 0 ? 0 : 7)) << "keys 7 and " << their_key;
        EXPECT_FALSE(unlike.get());
    }
}
