#include "passes/fusion.h"

#include <algorithm>
#include <cstdint>

namespace googlenet {

std::vector<int> reader_counts(const std::vector<FusedOp>& ops, int values) {
    std::vector<int> readers(size_t(values), 0);
    for (const FusedOp& op : ops)
        for (ValueId in : op.inputs) ++readers[size_t(in)];
    return readers;
}

std::vector<FusedOp> fuse_ops(const Graph& g, bool fold_norms) {
    std::vector<FusedOp> all;
    for (size_t i = 0; i < g.nodes().size(); ++i) all.push_back(FusedOp{i, g.nodes()[i].inputs, ValueId(i) + 1});
    const std::vector<int> readers = reader_counts(all, g.value_count());
    std::vector<FusedOp> kept;
    std::vector<size_t> kept_at(size_t(g.value_count()), SIZE_MAX);  // by value: the kept op that writes it
    for (const FusedOp& op : all) {
        const Node& node = g.nodes()[op.node];
        const bool relu = node.op.kind == OpAttributes::relu;
        if (relu || (fold_norms && node.op.kind == OpAttributes::batch_norm)) {
            const ValueId v = op.inputs[0];
            FusedOp* producer = kept_at[size_t(v)] == SIZE_MAX ? nullptr : &kept[kept_at[size_t(v)]];
            if (producer && readers[size_t(v)] == 1 && v != g.output() && !producer->fused_relu &&
                g.nodes()[producer->node].auxiliary == node.auxiliary &&
                (g.nodes()[producer->node].op.kind == OpAttributes::conv ||
                 (relu && g.nodes()[producer->node].op.kind == OpAttributes::batch_norm))) {
                producer->output = op.output;
                if (relu) {
                    producer->fused_relu = true;
                    producer->relu_mask = ReluMask::own;
                } else {
                    producer->folded_norm = int(op.node);
                }
                kept_at[size_t(op.output)] = kept_at[size_t(v)];
                continue;
            }
        }
        kept_at[size_t(op.output)] = kept.size();
        kept.push_back(op);
    }
    return kept;
}

void drop_auxiliaries(const Graph& g, std::vector<FusedOp>& ops) {
    ops.erase(std::remove_if(ops.begin(), ops.end(), [&](const FusedOp& op) { return g.nodes()[op.node].auxiliary; }), ops.end());
}

void hand_on_relu_masks(const Graph& g, std::vector<FusedOp>& ops) {
    const std::vector<int> readers = reader_counts(ops, g.value_count());
    std::vector<FusedOp*> producer(size_t(g.value_count()), nullptr);
    for (FusedOp& op : ops) producer[size_t(op.output)] = &op;
    for (FusedOp& op : ops) {
        const Node& node = g.nodes()[op.node];
        const bool keeps_relu_zeros = node.op.kind == OpAttributes::max_pool || node.op.kind == OpAttributes::concat;
        if (!keeps_relu_zeros || op.inputs.empty()) continue;
        bool all_masked = true;
        for (ValueId in : op.inputs) {
            const FusedOp* p = producer[size_t(in)];
            all_masked = all_masked && p && p->relu_mask == ReluMask::own && readers[size_t(in)] == 1 &&
                         g.nodes()[p->node].auxiliary == node.auxiliary;
        }
        if (!all_masked) continue;
        for (ValueId in : op.inputs) producer[size_t(in)]->relu_mask = ReluMask::handed_on;
        op.relu_mask = ReluMask::own;
    }
}

}  // namespace googlenet
