// The passes set_batch runs over a built Net: ReLU fusion, where ReLU masks are applied, and the
// memory plans of activations and gradients.
#include <algorithm>
#include <map>

#include "core/memory_plan.h"
#include "core/runtime.h"
#include "googlenet/net.h"

namespace googlenet {

std::map<const Value*, int> Net::reader_counts() const {
    std::map<const Value*, int> readers;
    for (const auto& op : ops_)
        for (const Value* in : op->inputs) ++readers[in];
    return readers;
}

// A ReLU whose input comes from a convolution and goes nowhere else becomes that convolution's
// post-op: one pass over memory fewer forward, and the pre-activation tensor is never stored.
void Net::fuse_conv_relu() {
    std::map<const Value*, int> consumers = reader_counts();
    std::vector<std::unique_ptr<Op>> kept;
    for (auto& op : ops_) {
        if (op->is_relu()) {
            Value* v = op->inputs[0];
            Op* producer = nullptr;
            for (auto& other : kept)
                if (other->output == v) producer = other.get();
            if (producer && consumers[v] == 1 && v != values_[size_t(output_)].get() &&
                producer->auxiliary == op->auxiliary && producer->fuse_relu()) {
                producer->output = op->output;
                v->live = false;
                continue;
            }
        }
        kept.push_back(std::move(op));
    }
    ops_ = std::move(kept);
}

// A fused ReLU's backward needs its output y until backward runs. When y's only reader is a max
// pool or a concatenation, that op's output is positive exactly where the y it came from was
// (a max is positive iff the winning element is; a concatenation copies), so the mask can be
// applied to that output's gradient before the op's own backward, and y dies as soon as it has
// been read forward. In D2L's network that frees the first convolution's 72 MiB (batch 128) and
// every Inception path's output; chains hand on further (paths -> concatenation -> max pool).
// Pooling scatters each gradient to its window's winner, so masking before or after is the same.
void Net::hand_on_relu_masks() {
    std::map<const Value*, int> readers = reader_counts();
    std::map<const Value*, Op*> producer;
    for (auto& op : ops_) producer[op->output] = op.get();
    for (auto& op : ops_) {
        if (!op->keeps_relu_zeros() || op->inputs.empty()) continue;
        bool all_masked = true;
        for (const Value* in : op->inputs) {
            auto p = producer.find(in);
            all_masked = all_masked && p != producer.end() && p->second->relu_mask == ReluMask::own &&
                         readers[in] == 1 && p->second->auxiliary == op->auxiliary;
        }
        if (!all_masked) continue;
        for (const Value* in : op->inputs) producer[in]->relu_mask = ReluMask::handed_on;
        op->relu_mask = ReluMask::own;
    }
}

// Activation memory by liveness. Forward runs op i at step i and backward runs it at step
// 2S - 1 - i (S ops). A value is alive from the step that writes it (the image: before step 0)
// to its last reader: the last op that reads it forward, or the last backward step of an op that
// saves it for backward. The logits (main and auxiliary) and values nothing reads live to the end:
// the loss and the caller read them. With paths side by side (net_branches.cpp) forward times
// are stages instead, which never exceed op indices: values of one stage never share memory.
void Net::plan_activations() {
    const int steps = int(ops_.size()), end = 2 * steps;
    std::map<const Value*, size_t> index;
    std::vector<Lifetime> lives;
    std::vector<Value*> planned;
    for (auto& v : values_) {
        if (!v->live) continue;
        index[v.get()] = lives.size();
        lives.push_back(Lifetime{-1, -1, storage_of(v->shape, v->layout)});
        planned.push_back(v.get());
    }
    for (int i = 0; i < steps; ++i) {
        const Op& op = *ops_[size_t(i)];
        // With paths side by side, ops of one stage run at once: the stage is their time.
        const int t = op_time_.empty() ? i : op_time_[size_t(i)];
        lives[index.at(op.output)].first = t;
        for (const Value* in : op.inputs) lives[index.at(in)].last = std::max(lives[index.at(in)].last, t);
        for (const Value* v : op.saved_for_backward()) lives[index.at(v)].last = std::max(lives[index.at(v)].last, end - 1 - i);
    }
    for (Lifetime& l : lives)
        if (l.last < l.first) l.last = end;  // nothing reads it
    lives[index.at(values_[size_t(output_)].get())].last = end;
    for (const Auxiliary& a : auxiliaries()) lives[index.at(values_[size_t(a.logits)].get())].last = end;
    act_arena_.resize(plan_arena(lives));
    for (size_t i = 0; i < planned.size(); ++i)
        planned[i]->data = TensorView(act_arena_.data() + lives[i].offset, storage_of(planned[i]->shape, planned[i]->layout));
}

// Gradient memory by liveness: backward runs the ops in reverse, and a value's gradient is alive
// from the first backward step that writes it (its last consumer's) to the step that last reads it
// (its producer's).
void Net::plan_gradients() {
    const int steps = int(ops_.size());
    std::map<const Value*, size_t> index;
    std::vector<Lifetime> lives;
    std::vector<Value*> planned;
    for (auto& v : values_)
        if (v->live && v->needs_grad) {
            index[v.get()] = lives.size();
            lives.push_back(Lifetime{steps, -1, storage_of(v->shape, v->layout)});
            planned.push_back(v.get());
        }
    for (int i = 0; i < steps; ++i) {
        const int t = steps - 1 - i;  // the backward step of op i
        for (Value* in : ops_[size_t(i)]->inputs)
            if (index.count(in)) lives[index[in]].first = std::min(lives[index[in]].first, t);
        if (index.count(ops_[size_t(i)]->output)) lives[index[ops_[size_t(i)]->output]].last = t;
    }
    auto written_by_loss = [&](ValueId id) {
        if (index.count(values_[size_t(id)].get())) lives[index[values_[size_t(id)].get()]].first = -1;
    };
    written_by_loss(output_);
    for (const Auxiliary& a : auxiliaries()) written_by_loss(a.logits);
    unconsumed_.clear();
    for (size_t i = 0; i < lives.size(); ++i) {
        Lifetime& l = lives[i];
        if (l.last < 0) l.last = steps;  // no producer (the input): read after backward
        if (l.first == steps) {          // no consumer: zeroed before each backward
            l.first = -1;
            unconsumed_.push_back(planned[i]);
        }
    }
    grad_arena_.resize(plan_arena(lives));
    for (size_t i = 0; i < planned.size(); ++i)
        planned[i]->grad = TensorView(grad_arena_.data() + lives[i].offset, storage_of(planned[i]->shape, planned[i]->layout));
}

}  // namespace googlenet
