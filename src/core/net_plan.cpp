// set_batch's passes (src/passes/) applied to this Net's program: ReLU fusion and where
// ReLU masks are applied, each value's layout, and the memory plans of activations and gradients.
#include <algorithm>

#include "core/runtime.h"
#include "execution/paths.h"
#include "execution/program.h"
#include "googlenet/net.h"
#include "passes/layout.h"
#include "passes/lifetimes.h"
#include "passes/precision.h"

namespace googlenet {

void Net::fuse() {
    std::vector<FusedOp> fused = fuse_ops(graph_, !state_->training && options_.fold_batch_norm);
    hand_on_relu_masks(graph_, fused);
    if (!state_->training) drop_auxiliaries(graph_, fused);
    Program& p = *program_;
    p.ops.clear();
    for (const FusedOp& f : fused) {
        Op& op = *p.nodes[f.node];
        if (!op.fuse_relu(f.fused_relu) && f.fused_relu) throw Error("internal: " + op.describe() + " cannot take a ReLU");
        const Op* norm = f.folded_norm >= 0 ? p.nodes[size_t(f.folded_norm)].get() : nullptr;
        if (!op.fold_norm(norm) && norm) throw Error("internal: " + op.describe() + " cannot fold a batch norm");
        op.output = p.values[size_t(f.output)].get();
        op.relu_mask = f.relu_mask;
        p.ops.push_back(&op);
    }
    for (auto& v : p.values) v->live = v == p.values[0];
    for (Op* op : p.ops) op->output->live = true;  // a fused ReLU's input is no value any more
    fused_ = std::move(fused);
}

void Net::choose_layouts() {
    std::vector<Layout> layouts = googlenet::choose_layouts(graph_, fused_, options_.layout, channel_block());
    std::vector<DataType> types(layouts.size(), DataType::f32);
    if (options_.precision == Precision::bf16) types = choose_types(graph_, fused_, layouts, bf16_min_channels(state_->training));
    std::vector<float> scales(layouts.size(), 0.f);
    std::vector<bool> signed_codes(layouts.size(), false);
    if (options_.precision == Precision::int8) {
        types = choose_int8_types(graph_, fused_, layouts, kInt8MinChannels, bf16_min_channels(false));
        scales = int8_scales(fused_, types, ranges_.lo, ranges_.hi, signed_codes);
    }
    for (auto& v : program_->values) {
        const size_t id = size_t(v->id);
        v->layout = layouts[id], v->type = types[id], v->scale = scales[id], v->signed_codes = signed_codes[id];
    }
    for (size_t i = 0; i < fused_.size(); ++i) program_->ops[i]->compute = fused_[i].compute;
}

std::vector<OpUse> Net::op_uses() const {
    auto ids = [](const std::vector<const Value*>& vs) {
        std::vector<ValueId> out;
        for (const Value* v : vs) out.push_back(v->id);
        return out;
    };
    std::vector<OpUse> uses;
    const std::vector<Op*>& ops = program_->ops;
    for (size_t i = 0; i < ops.size(); ++i) {
        const Op& op = *ops[i];
        // With the paths side by side (src/execution/paths.cpp), ops of one stage run at once:
        // the stage is their time.
        const int time = paths_ ? paths_->stages()[i] : int(i);
        uses.push_back(OpUse{op.output->id, ids({op.inputs.begin(), op.inputs.end()}), ids(op.saved_for_backward()), time});
    }
    return uses;
}

void Net::plan_memory() {
    Program& p = *program_;
    const std::vector<OpUse> uses = op_uses();
    std::vector<ValueId> logits{p.output};
    if (state_->training)  // evaluation leaves the auxiliary classifiers out
        for (const Auxiliary& a : auxiliaries()) logits.push_back(a.logits);

    std::vector<Planned> planned;
    for (auto& v : p.values)
        if (v->live) planned.emplace_back(v->id, storage_of(v->shape, v->layout, v->type));
    std::vector<Lifetime> lives = activation_lifetimes(uses, planned, logits);
    p.activations.resize(plan_arena(lives));
    for (size_t i = 0; i < planned.size(); ++i)
        value(planned[i].first).data = TensorView(p.activations.data() + lives[i].offset, planned[i].second);

    planned.clear();
    for (auto& v : p.values)
        if (v->live && v->needs_grad) planned.emplace_back(v->id, storage_of(v->shape, v->layout, v->type));
    std::vector<size_t> unconsumed;
    lives = gradient_lifetimes(uses, planned, logits, unconsumed);
    p.gradients.resize(plan_arena(lives));
    for (size_t i = 0; i < planned.size(); ++i)
        value(planned[i].first).grad = TensorView(p.gradients.data() + lives[i].offset, planned[i].second);
    p.unconsumed.clear();
    for (size_t i : unconsumed) p.unconsumed.push_back(&value(planned[i].first));
}

}  // namespace googlenet
