#include "passes/precision.h"

namespace googlenet {

bool runs_bf16(const Graph& g, const FusedOp& op, int min_channels) {
    const Node& node = g.nodes()[op.node];
    return node.op.kind == OpAttributes::conv && !node.auxiliary && g.shape(op.inputs.at(0)).c >= min_channels;
}

std::vector<DataType> choose_types(const Graph& g, std::vector<FusedOp>& ops, std::vector<Layout>& layouts,
                                   int min_channels) {
    const size_t values = size_t(g.value_count());
    auto kind = [&](const FusedOp& op) { return g.nodes()[op.node].op.kind; };
    // Ops whose input and output are of one type (oneDNN primitives on one memory descriptor).
    auto one_type = [&](const FusedOp& op) {
        const OpAttributes::Kind k = kind(op);
        return k == OpAttributes::max_pool || k == OpAttributes::concat || k == OpAttributes::batch_norm ||
               k == OpAttributes::relu;
    };
    // oneDNN 3.2's bf16 batch norm on NHWC has JIT kernels only for whole blocks of 16 channels;
    // otherwise its generic loop runs, far slower than the f32 kernel (docs/performance.md).
    auto bf16_norm_kernel = [&](const FusedOp& op) { return kind(op) != OpAttributes::batch_norm || g.shape(op.output).c % 16 == 0; };
    auto takes_bf16 = [&](const FusedOp& op) {
        return op.compute == DataType::bf16 || (!g.nodes()[op.node].auxiliary && one_type(op) && bf16_norm_kernel(op));
    };
    for (FusedOp& op : ops) op.compute = runs_bf16(g, op, min_channels) ? DataType::bf16 : DataType::f32;
    std::vector<int> writer(values, -1);
    std::vector<bool> bf16_readers(values, true), read(values, false);
    for (size_t i = 0; i < ops.size(); ++i) {
        writer[size_t(ops[i].output)] = int(i);
        for (ValueId in : ops[i].inputs) {
            read[size_t(in)] = true;
            bf16_readers[size_t(in)] = bf16_readers[size_t(in)] && takes_bf16(ops[i]);
        }
    }
    std::vector<DataType> types(values, DataType::f32);
    for (size_t v = 0; v < values; ++v)
        if (ValueId(v) != g.input() && ValueId(v) != g.output() && writer[v] >= 0 && takes_bf16(ops[size_t(writer[v])]) &&
            read[v] && bf16_readers[v])
            types[v] = DataType::bf16;
    // A pool's, a concatenation's, a batch norm's or a ReLU's values are all of one type: f32 where
    // one of them must be.
    for (bool changed = true; changed;) {
        changed = false;
        for (const FusedOp& op : ops) {
            if (!one_type(op)) continue;
            bool any_f32 = types[size_t(op.output)] == DataType::f32, any_bf16 = !any_f32;
            for (ValueId in : op.inputs) {
                any_f32 = any_f32 || types[size_t(in)] == DataType::f32;
                any_bf16 = any_bf16 || types[size_t(in)] == DataType::bf16;
            }
            if (!any_f32 || !any_bf16) continue;
            types[size_t(op.output)] = DataType::f32;
            for (ValueId in : op.inputs) types[size_t(in)] = DataType::f32;
            changed = true;
        }
    }
    for (const FusedOp& op : ops) {
        const OpAttributes::Kind k = kind(op);
        bool nhwc = op.compute == DataType::bf16;
        // What reads an NHWC value writes NHWC: oneDNN has no fast kernel that changes the layout
        // on the way (its reference pooling from NHWC into nChw16c took 16 ms of a 64-image copy's
        // forward at D2L's global pool; an fp32 convolution so, in torchvision's auxiliary heads,
        // took a second a step). The adaptive pool reads plain NCHW copies whatever its input.
        if (k == OpAttributes::conv || k == OpAttributes::max_pool || k == OpAttributes::avg_pool ||
            k == OpAttributes::concat || k == OpAttributes::relu || k == OpAttributes::batch_norm ||
            k == OpAttributes::dropout || k == OpAttributes::lrn)
            for (ValueId in : op.inputs) nhwc = nhwc || layouts[size_t(in)] == Layout::nhwc;
        if (nhwc) layouts[size_t(op.output)] = Layout::nhwc;
    }
    return types;
}

}  // namespace googlenet
