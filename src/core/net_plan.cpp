// set_batch's passes (src/passes/) applied to this Net's ops and values: ReLU fusion and where
// ReLU masks are applied, each value's layout, and the memory plans of activations and gradients.
#include <algorithm>

#include "core/runtime.h"
#include "googlenet/net.h"
#include "passes/layout.h"
#include "passes/lifetimes.h"

namespace googlenet {

void Net::fuse() {
    std::vector<FusedOp> fused = fuse_conv_relu(graph_);
    hand_on_relu_masks(graph_, fused);
    std::vector<std::unique_ptr<Op>> kept;
    for (const FusedOp& f : fused) {
        std::unique_ptr<Op>& op = ops_[f.node];
        if (f.fused_relu && !op->fuse_relu()) throw Error("internal: " + op->describe() + " cannot take a ReLU");
        op->output = values_[size_t(f.output)].get();
        op->relu_mask = f.relu_mask;
        kept.push_back(std::move(op));
    }
    for (auto& v : values_) v->live = v == values_[0];
    for (auto& op : kept) op->output->live = true;  // a fused ReLU's input is no value any more
    ops_ = std::move(kept);
    fused_ = std::move(fused);
}

void Net::choose_layouts() {
    const std::vector<Layout> layouts = googlenet::choose_layouts(graph_, fused_, options_.layout, channel_block());
    for (auto& v : values_) v->layout = layouts[size_t(v->id)];
}

std::vector<OpUse> Net::op_uses() const {
    auto ids = [](const std::vector<const Value*>& vs) {
        std::vector<ValueId> out;
        for (const Value* v : vs) out.push_back(v->id);
        return out;
    };
    std::vector<OpUse> uses;
    for (size_t i = 0; i < ops_.size(); ++i) {
        const Op& op = *ops_[i];
        // With paths side by side (net_branches.cpp), ops of one stage run at once: the stage is their time.
        const int time = op_time_.empty() ? int(i) : op_time_[i];
        uses.push_back(OpUse{op.output->id, ids({op.inputs.begin(), op.inputs.end()}), ids(op.saved_for_backward()), time});
    }
    return uses;
}

void Net::plan_memory() {
    const std::vector<OpUse> uses = op_uses();
    std::vector<ValueId> logits{output_};
    for (const Auxiliary& a : auxiliaries()) logits.push_back(a.logits);

    std::vector<Planned> planned;
    for (auto& v : values_)
        if (v->live) planned.emplace_back(v->id, storage_of(v->shape, v->layout));
    std::vector<Lifetime> lives = activation_lifetimes(uses, planned, logits);
    act_arena_.resize(plan_arena(lives));
    for (size_t i = 0; i < planned.size(); ++i)
        value(planned[i].first).data = TensorView(act_arena_.data() + lives[i].offset, planned[i].second);

    planned.clear();
    for (auto& v : values_)
        if (v->live && v->needs_grad) planned.emplace_back(v->id, storage_of(v->shape, v->layout));
    std::vector<size_t> unconsumed;
    lives = gradient_lifetimes(uses, planned, logits, unconsumed);
    grad_arena_.resize(plan_arena(lives));
    for (size_t i = 0; i < planned.size(); ++i)
        value(planned[i].first).grad = TensorView(grad_arena_.data() + lives[i].offset, planned[i].second);
    unconsumed_.clear();
    for (size_t i : unconsumed) unconsumed_.push_back(&value(planned[i].first));
}

}  // namespace googlenet
