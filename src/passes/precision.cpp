#include "passes/precision.h"

#include <algorithm>
#include <functional>
#include <numeric>

namespace googlenet {

bool runs_bf16(const Graph& g, const FusedOp& op, int min_channels) {
    const Node& node = g.nodes()[op.node];
    return node.op.kind == OpAttributes::conv && !node.auxiliary && g.shape(op.inputs.at(0)).c >= min_channels;
}

namespace {

// What a plan's low precision runs: the type each op writes by itself, which ops keep one type
// across all their values, and which ops read a value of a low type.
struct LowPrecision {
    std::function<DataType(const FusedOp&)> writes;          // f32, or the low type its output may hold
    std::function<bool(const FusedOp&)> one_type;            // copies or compares: its values all of one type
    std::function<bool(const FusedOp&, DataType)> accepts;   // reads a value of this low type
};

std::vector<DataType> assign_types(const Graph& g, const std::vector<FusedOp>& ops, std::vector<Layout>& layouts,
                                   const LowPrecision& low) {
    const size_t values = size_t(g.value_count());
    std::vector<DataType> types(values, DataType::f32);
    // What each op would write, in order: a one-type op what its inputs hold.
    for (const FusedOp& op : ops) {
        DataType t = low.writes(op);
        if (low.one_type(op)) {
            t = types[size_t(op.inputs.at(0))];
            for (ValueId in : op.inputs) t = types[size_t(in)] == t ? t : DataType::f32;
        }
        types[size_t(op.output)] = t;
    }
    types[size_t(g.input())] = types[size_t(g.output())] = DataType::f32;
    // Low only where every reader reads it so (and something does).
    std::vector<bool> read(values, false);
    for (const FusedOp& op : ops)
        for (ValueId in : op.inputs) read[size_t(in)] = true;
    for (size_t v = 0; v < values; ++v)
        if (!read[v]) types[v] = DataType::f32;
    for (const FusedOp& op : ops)
        for (ValueId in : op.inputs)
            if (types[size_t(in)] != DataType::f32 && !low.accepts(op, types[size_t(in)])) types[size_t(in)] = DataType::f32;
    // A one-type op's values are all of one type: f32 where one of them must be.
    for (bool changed = true; changed;) {
        changed = false;
        for (const FusedOp& op : ops) {
            if (!low.one_type(op)) continue;
            bool same = true;
            for (ValueId in : op.inputs) same = same && types[size_t(in)] == types[size_t(op.output)];
            if (same) continue;
            types[size_t(op.output)] = DataType::f32;
            for (ValueId in : op.inputs) types[size_t(in)] = DataType::f32;
            changed = true;
        }
    }
    for (const FusedOp& op : ops) {
        const OpAttributes::Kind k = g.nodes()[op.node].op.kind;
        bool nhwc = op.compute != DataType::f32;
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

}  // namespace

std::vector<DataType> choose_types(const Graph& g, std::vector<FusedOp>& ops, std::vector<Layout>& layouts,
                                   int min_channels) {
    auto kind = [&](const FusedOp& op) { return g.nodes()[op.node].op.kind; };
    for (FusedOp& op : ops) op.compute = runs_bf16(g, op, min_channels) ? DataType::bf16 : DataType::f32;
    LowPrecision bf16;
    bf16.writes = [](const FusedOp& op) { return op.compute; };
    bf16.one_type = [&](const FusedOp& op) {
        const OpAttributes::Kind k = kind(op);
        // oneDNN 3.2's bf16 batch norm on NHWC has JIT kernels only for whole blocks of 16
        // channels; otherwise its generic loop runs, far slower than the f32 kernel
        // (docs/performance.md).
        const bool norm_kernel = k != OpAttributes::batch_norm || g.shape(op.output).c % 16 == 0;
        return !g.nodes()[op.node].auxiliary && norm_kernel &&
               (k == OpAttributes::max_pool || k == OpAttributes::concat || k == OpAttributes::batch_norm ||
                k == OpAttributes::relu);
    };
    bf16.accepts = [&](const FusedOp& op, DataType t) {
        return t == DataType::bf16 && (op.compute == DataType::bf16 || bf16.one_type(op));
    };
    return assign_types(g, ops, layouts, bf16);
}

std::vector<DataType> choose_int8_types(const Graph& g, std::vector<FusedOp>& ops, std::vector<Layout>& layouts,
                                        int int8_min_channels, int bf16_min_channels) {
    auto kind = [&](const FusedOp& op) { return g.nodes()[op.node].op.kind; };
    for (FusedOp& op : ops) {
        op.compute = DataType::f32;
        if (kind(op) != OpAttributes::conv || g.nodes()[op.node].auxiliary) continue;
        const int channels = g.shape(op.inputs.at(0)).c;
        op.compute = channels >= int8_min_channels ? DataType::s8 : channels >= bf16_min_channels ? DataType::bf16 : DataType::f32;
    }
    LowPrecision int8;
    // An int8 convolution's output is never negative only with its ReLU: u8 codes then.
    int8.writes = [](const FusedOp& op) {
        return op.compute == DataType::s8 ? (op.fused_relu ? DataType::u8 : DataType::f32) : op.compute;
    };
    int8.one_type = [&](const FusedOp& op) {
        return !g.nodes()[op.node].auxiliary && (kind(op) == OpAttributes::max_pool || kind(op) == OpAttributes::concat);
    };
    // An int8 convolution converts a bf16 input to its codes; a bf16 one reads no codes.
    int8.accepts = [&](const FusedOp& op, DataType t) {
        if (int8.one_type(op)) return true;
        if (op.compute == DataType::s8) return t == DataType::u8 || t == DataType::bf16;
        return op.compute == DataType::bf16 && t == DataType::bf16;
    };
    return assign_types(g, ops, layouts, int8);
}

std::vector<float> int8_scales(const std::vector<FusedOp>& ops, const std::vector<DataType>& types,
                               const std::vector<float>& lo, const std::vector<float>& hi, std::vector<bool>& signed_codes) {
    const size_t values = types.size();
    std::vector<size_t> group(values);
    std::iota(group.begin(), group.end(), size_t(0));
    std::function<size_t(size_t)> root = [&](size_t v) { return group[v] == v ? v : group[v] = root(group[v]); };
    // A u8 op with several u8 values (a max pool, a concatenation) copies codes: one scale for all.
    for (const FusedOp& op : ops) {
        if (types[size_t(op.output)] != DataType::u8) continue;
        for (ValueId in : op.inputs)
            if (types[size_t(in)] == DataType::u8) group[root(size_t(in))] = root(size_t(op.output));
    }
    std::vector<float> top(values, 0.f);
    for (size_t v = 0; v < values; ++v) top[root(v)] = std::max(top[root(v)], std::max(hi[v], -lo[v]));
    std::vector<float> scales(values, 0.f);
    signed_codes.assign(values, false);
    for (size_t v = 0; v < values; ++v) {
        signed_codes[v] = types[v] != DataType::u8 && lo[v] < 0.f;
        const float range = top[root(v)];
        // A value that was zero throughout calibration gets any scale: its codes are all zero.
        scales[v] = range > 0.f ? range / (signed_codes[v] ? 127.f : 255.f) : 1.f;
    }
    return scales;
}

}  // namespace googlenet
