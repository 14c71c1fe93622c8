// The passes from a graph to a plan (src/passes/), each on a small graph or on made-up ops,
// without a Net: ReLU fusion, where ReLU masks are applied, layouts, lifetimes and the arena.
#include <gtest/gtest.h>

#include "passes/fusion.h"
#include "passes/layout.h"
#include "passes/lifetimes.h"
#include "passes/memory_plan.h"

using namespace googlenet;

namespace {

const FusedOp& op_of(const std::vector<FusedOp>& ops, size_t node) {
    for (const FusedOp& op : ops)
        if (op.node == node) return op;
    throw std::runtime_error("node " + std::to_string(node) + " does not run");
}

bool runs(const std::vector<FusedOp>& ops, size_t node) {
    for (const FusedOp& op : ops)
        if (op.node == node) return true;
    return false;
}

}  // namespace

// Node i writes value i + 1 (value 0 is the image).
TEST(Fusion, AReluReadingOnlyAConvolutionBecomesItsPostOp) {
    Graph g(3, 8, 8);
    const ValueId a = g.relu(g.conv(g.input(), {4, 3, 1, 1}, "a"));  // nodes 0, 1: fused
    const ValueId b = g.conv(a, {4, 1}, "b");                         // node 2, read twice
    const ValueId rb = g.relu(b);                                     // node 3: b is read elsewhere
    const ValueId p = g.relu(g.max_pool(b, 3, 1, 1));                 // nodes 4, 5: not after a conv
    g.relu(g.conv(g.concat({rb, p}), {2, 1}, "c"));                   // nodes 6, 7, 8: the output's ReLU fuses
    const std::vector<FusedOp> ops = fuse_ops(g);

    ASSERT_EQ(ops.size(), 7u);
    EXPECT_FALSE(runs(ops, 1));
    EXPECT_TRUE(op_of(ops, 0).fused_relu);
    EXPECT_EQ(op_of(ops, 0).output, a) << "the convolution writes the ReLU's value";
    EXPECT_EQ(op_of(ops, 0).relu_mask, ReluMask::own);
    EXPECT_EQ(op_of(ops, 2).inputs, std::vector<ValueId>{a});
    EXPECT_FALSE(op_of(ops, 2).fused_relu) << "its output is read by a ReLU and a max pool";
    EXPECT_TRUE(runs(ops, 3));
    EXPECT_TRUE(runs(ops, 5));
    EXPECT_FALSE(runs(ops, 8));
    EXPECT_TRUE(op_of(ops, 7).fused_relu);
    EXPECT_EQ(op_of(ops, 7).output, g.output());
    EXPECT_EQ(reader_counts(ops, g.value_count())[size_t(b)], 2);
}

// The network's output is returned to the caller, and an auxiliary classifier's ReLU stays out
// of a main-path convolution.
TEST(Fusion, KeepsAReluWhoseInputIsTheOutputOrOnTheOtherSideOfAnAuxiliary) {
    Graph g(1, 4, 4);
    const ValueId c = g.conv(g.input(), {2, 1}, "c");
    g.relu(c);
    g.set_output(c);
    EXPECT_EQ(fuse_ops(g).size(), 2u);

    Graph h(1, 4, 4);
    const ValueId d = h.conv(h.input(), {2, 1}, "d");  // node 0, read by the auxiliary alone
    const ValueId logits = h.linear(h.input(), 3, "fc");
    const size_t first_aux = h.nodes().size();
    const ValueId aux = h.linear(h.relu(d), 3, "aux");  // nodes 2, 3
    h.add_auxiliary(first_aux, aux, 0.3f);
    h.set_output(logits);
    EXPECT_TRUE(runs(fuse_ops(h), 2));
}

// conv+relu paths -> concatenation -> max pool: the paths hand their masks to the concatenation,
// which hands its own to the pool; a path that is also read elsewhere keeps its mask and stops
// the hand-on.
TEST(Fusion, ReluMasksHandOnThroughConcatenationAndMaxPool) {
    Graph g(3, 8, 8);
    const ValueId p1 = g.relu(g.conv(g.input(), {4, 1}, "p1"));     // nodes 0, 1
    const ValueId p2 = g.relu(g.conv(g.input(), {4, 3, 1, 1}, "p2"));  // nodes 2, 3
    const ValueId cat = g.concat({p1, p2});                          // node 4
    const ValueId pool = g.max_pool(cat, 3, 2, 1);                   // node 5
    const ValueId q = g.relu(g.conv(pool, {4, 1}, "q"));             // nodes 6, 7
    g.linear(g.concat({q, pool}), 10, "fc");                         // nodes 8, 9: pool is read twice
    std::vector<FusedOp> ops = fuse_ops(g);
    hand_on_relu_masks(g, ops);

    EXPECT_EQ(op_of(ops, 0).relu_mask, ReluMask::handed_on);
    EXPECT_EQ(op_of(ops, 2).relu_mask, ReluMask::handed_on);
    EXPECT_EQ(op_of(ops, 4).relu_mask, ReluMask::handed_on);
    EXPECT_EQ(op_of(ops, 5).relu_mask, ReluMask::own) << "the pool's output gradient is masked";
    EXPECT_EQ(op_of(ops, 6).relu_mask, ReluMask::own) << "q's partner in the concatenation, pool, is read twice";
    EXPECT_EQ(op_of(ops, 8).relu_mask, ReluMask::none);
    EXPECT_EQ(cat, ValueId(5));
    EXPECT_EQ(pool, ValueId(6));
}

TEST(Layout, TheImageAndUnalignedChannelsStayPlain) {
    Graph g(3, 8, 8);
    const ValueId a = g.conv(g.input(), {16, 1}, "a");
    const ValueId b = g.conv(g.input(), {8, 1}, "b");
    const ValueId cat = g.concat({a, b});  // 24 channels: b's range starts at 16, its end is no block's
    const ValueId aligned = g.concat({a, a});
    const ValueId gap = g.global_avg_pool(aligned);  // 1x1 with 32 channels: a matrix in any layout
    const ValueId narrow = g.global_avg_pool(b);     // 1x1 with 8: a blocked layout would pad it
    const std::vector<FusedOp> ops = fuse_ops(g);
    const std::vector<Layout> layouts = choose_layouts(g, ops, Layout::blocked, 16);

    EXPECT_EQ(layouts[size_t(g.input())], Layout::nchw);
    EXPECT_EQ(layouts[size_t(a)], Layout::nchw) << "an input of the unaligned concatenation";
    EXPECT_EQ(layouts[size_t(b)], Layout::nchw);
    EXPECT_EQ(layouts[size_t(cat)], Layout::nchw);
    EXPECT_EQ(layouts[size_t(aligned)], Layout::blocked);
    EXPECT_EQ(layouts[size_t(gap)], Layout::blocked);
    EXPECT_EQ(layouts[size_t(narrow)], Layout::nchw);
    for (Layout l : choose_layouts(g, ops, Layout::nhwc, 1)) EXPECT_NE(l, Layout::blocked);
    EXPECT_EQ(choose_layouts(g, ops, Layout::nhwc, 1)[size_t(cat)], Layout::nhwc);
}

// In evaluation a batch norm that reads only a convolution folds into it, and the ReLU after
// it then fuses too (torchvision's conv -> batch norm -> ReLU as one op); in training nothing folds.
TEST(Fusion, EvaluationFoldsABatchNormIntoTheConvolutionBeforeIt) {
    Graph g(3, 8, 8);
    const ValueId a = g.conv(g.input(), {4, 3, 1, 1, false}, "a");  // node 0
    const ValueId na = g.relu(g.batch_norm(a, 1e-3f, 0.1f, "na"));  // nodes 1, 2: both fold/fuse
    const ValueId b = g.relu(g.conv(na, {4, 1}, "b"));              // nodes 3, 4
    const ValueId nb = g.batch_norm(b, 1e-3f, 0.1f, "nb");          // node 5: after a ReLU, stays
    const ValueId c = g.conv(nb, {4, 1}, "c");                      // node 6, read twice
    const ValueId nc = g.batch_norm(c, 1e-3f, 0.1f, "nc");          // node 7: c is read elsewhere
    g.set_output(g.concat({nc, c}));                                // node 8

    const std::vector<FusedOp> eval = fuse_ops(g, true);
    ASSERT_EQ(eval.size(), 6u);
    EXPECT_FALSE(runs(eval, 1));
    EXPECT_FALSE(runs(eval, 2));
    EXPECT_EQ(op_of(eval, 0).folded_norm, 1);
    EXPECT_TRUE(op_of(eval, 0).fused_relu);
    EXPECT_EQ(op_of(eval, 0).output, na);
    EXPECT_EQ(op_of(eval, 3).folded_norm, -1);
    EXPECT_TRUE(runs(eval, 5)) << "a batch norm after a fused ReLU is no affine map of the convolution";
    EXPECT_EQ(op_of(eval, 6).folded_norm, -1);
    EXPECT_TRUE(runs(eval, 7));

    const std::vector<FusedOp> train = fuse_ops(g);
    EXPECT_EQ(train.size(), 7u);
    for (const FusedOp& op : train) EXPECT_EQ(op.folded_norm, -1);
    EXPECT_TRUE(op_of(train, 1).fused_relu) << "batch norm takes the ReLU after it (fuse_norm_relu)";
    EXPECT_EQ(op_of(train, 1).output, na);
    EXPECT_EQ(op_of(train, 1).relu_mask, ReluMask::own);
}

// A ReLU or batch norm keeps its input's layout: on the image, and before a concatenation that
// needs NCHW, the chain takes NCHW from end to end.
TEST(Layout, OpsThatKeepTheLayoutHaveOneAtBothEnds) {
    Graph g(16, 4, 4);
    const ValueId r = g.relu(g.input());
    const ValueId a = g.conv(r, {16, 1}, "a");
    const ValueId ra = g.relu(g.batch_norm(a, 1e-5f, 0.1f, "bn"));  // one op: the ReLU fuses into the batch norm
    const ValueId b = g.conv(r, {8, 1}, "b");
    const ValueId cat = g.concat({ra, b});
    const ValueId rc = g.relu(g.conv(cat, {16, 1}, "c"));
    const std::vector<Layout> layouts = choose_layouts(g, fuse_ops(g), Layout::blocked, 16);
    EXPECT_EQ(layouts[size_t(r)], Layout::nchw) << "the image's";
    for (ValueId v : {a, ra, b, cat}) EXPECT_EQ(layouts[size_t(v)], Layout::nchw) << "value " << v;
    EXPECT_EQ(layouts[size_t(rc)], Layout::blocked);
}

// Four ops, 0 -> 1 -> 2 -> 3 and 1 -> 4: op 0 saves its input and op 2 its own. Forward runs
// them at steps 0 to 3 and backward at 4 to 7 in reverse; the logits (3) are read at the end (8).
TEST(Lifetimes, ActivationsLiveFromTheirWriterToTheirLastReaderForwardOrBackward) {
    const std::vector<OpUse> ops{{1, {0}, {0}, 0}, {2, {1}, {}, 1}, {3, {2}, {2}, 2}, {4, {1}, {}, 3}};
    const std::vector<Planned> planned{{0, 10}, {1, 20}, {2, 30}, {3, 40}, {4, 50}};
    const std::vector<Lifetime> lives = activation_lifetimes(ops, planned, {3});
    ASSERT_EQ(lives.size(), 5u);
    EXPECT_EQ(lives[0].first, -1);
    EXPECT_EQ(lives[0].last, 7) << "saved by op 0, whose backward runs last";
    EXPECT_EQ(lives[1].first, 0);
    EXPECT_EQ(lives[1].last, 3) << "read forward by ops 1 and 3";
    EXPECT_EQ(lives[2].first, 1);
    EXPECT_EQ(lives[2].last, 5) << "saved by op 2, whose backward runs at 8 - 1 - 2";
    EXPECT_EQ(lives[3].last, 8) << "the logits are read after backward";
    EXPECT_EQ(lives[4].last, 8) << "nothing reads it";
    EXPECT_EQ(lives[4].size, 50u);
}

// Ops of one stage (paths side by side) run at one time: their outputs live together.
TEST(Lifetimes, OpsOfOneStageRunAtTheirStagesTime) {
    const std::vector<OpUse> ops{{1, {0}, {}, 0}, {2, {0}, {}, 0}, {3, {1, 2}, {}, 1}};
    const std::vector<Lifetime> lives = activation_lifetimes(ops, {{0, 8}, {1, 8}, {2, 8}, {3, 8}}, {3});
    EXPECT_EQ(lives[0].last, 0) << "both readers of the image run at step 0";
    EXPECT_EQ(lives[1].first, lives[2].first);
    EXPECT_EQ(lives[1].last, 1);
    EXPECT_EQ(lives[2].last, 1);
}

TEST(Lifetimes, GradientsLiveFromTheirFirstWriterBackwardToTheirProducer) {
    // Op i's backward runs at step 4 - 1 - i. Value 4 (op 3's) is read by nothing and is not the loss's.
    const std::vector<OpUse> ops{{1, {0}, {}, 0}, {2, {1}, {}, 1}, {3, {2}, {}, 2}, {4, {1}, {}, 3}};
    const std::vector<Planned> planned{{1, 20}, {2, 30}, {3, 40}, {4, 50}};
    std::vector<size_t> unconsumed{99};
    const std::vector<Lifetime> lives = gradient_lifetimes(ops, planned, {3}, unconsumed);
    ASSERT_EQ(lives.size(), 4u);
    EXPECT_EQ(lives[0].first, 0) << "op 3 (backward step 0) writes value 1's gradient first";
    EXPECT_EQ(lives[0].last, 3) << "read by op 0's backward";
    EXPECT_EQ(lives[1].first, 1);
    EXPECT_EQ(lives[1].last, 2);
    EXPECT_EQ(lives[2].first, -1) << "the loss writes the logits' gradient before backward";
    EXPECT_EQ(lives[2].last, 1);
    EXPECT_EQ(lives[3].first, -1) << "zeroed before backward";
    EXPECT_EQ(lives[3].last, 0);
    EXPECT_EQ(unconsumed, std::vector<size_t>{3});
}

// Two values alive at one step in common (an op reading one and writing the other) never share.
TEST(MemoryPlan, LifetimesThatMeetAtOneStepDoNotShare) {
    std::vector<Lifetime> lives{{0, 1, 96}, {1, 2, 96}, {2, 3, 96}};
    EXPECT_EQ(plan_arena(lives), 192u);
    EXPECT_NE(lives[0].offset, lives[1].offset);
    EXPECT_NE(lives[1].offset, lives[2].offset);
    EXPECT_EQ(lives[0].offset, lives[2].offset) << "the first and the last never live together";
}

TEST(MemoryPlan, OverlappingLifetimesNeverShare) {
    std::vector<Lifetime> lives{{0, 2, 100}, {1, 3, 50}, {3, 5, 100}, {4, 4, 10}};
    const size_t total = plan_arena(lives);
    for (size_t i = 0; i < lives.size(); ++i)
        for (size_t j = i + 1; j < lives.size(); ++j) {
            const Lifetime &a = lives[i], &b = lives[j];
            const bool overlap_in_time = a.first <= b.last && b.first <= a.last;
            const bool overlap_in_memory = a.offset < b.offset + b.size && b.offset < a.offset + a.size;
            EXPECT_FALSE(overlap_in_time && overlap_in_memory) << i << " and " << j;
        }
    EXPECT_EQ(lives[0].offset, lives[2].offset) << "the two large buffers never live together";
    // 100 floats round up to 112 (whole 64-byte lines); the 50 (64) sits beside the first 100,
    // and the 10 (16) beside the second, where the 50 has died.
    EXPECT_EQ(lives[1].offset, 112u);
    EXPECT_EQ(lives[3].offset, 112u);
    EXPECT_EQ(total, 176u);
}
