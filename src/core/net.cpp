#include <cmath>
#include "googlenet/net.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <map>

#include "core/branch_plan.h"
#include "googlenet/shape_rules.h"
#include "core/runtime.h"
#include "execution/backward_step.h"
#include "execution/split_share.h"
#include "passes/fusion.h"
#include "ops/ops.h"

namespace googlenet {

Net::Net(Graph graph) : graph_(std::move(graph)) {
    auto add_value = [&](const std::string& name, Shape shape) {
        auto v = std::make_unique<Value>();
        v->name = name;
        v->shape = shape;
        v->id = ValueId(values_.size());
        values_.push_back(std::move(v));
        return values_.back().get();
    };
    add_value("input", graph_.shape(0))->needs_grad = false;
    const std::vector<Node>& nodes = graph_.nodes();
    for (size_t i = 0; i < nodes.size(); ++i) {
        // Dropout's salt is its node's index, which every copy of the graph shares.
        std::unique_ptr<Op> op = make_op(nodes[i], graph_.shape(nodes[i].inputs.at(0)), params_, uint64_t(i));
        for (ValueId id : nodes[i].inputs) op->inputs.push_back(values_.at(size_t(id)).get());
        op->output = add_value(op->describe(), graph_.shape(ValueId(i) + 1));
        op->auxiliary = nodes[i].auxiliary;
        ops_.push_back(std::move(op));
    }
    output_ = graph_.output();
}

Net::~Net() = default;
Net::Net(Net&&) noexcept = default;
Net& Net::operator=(Net&&) noexcept = default;

void Net::set_training(bool training) {
    training_ = training;
    if (rt_) rt_->training = training;
    for (auto& copy : copies_) copy->set_training(training);
    weights_changed();
}

void Net::weights_changed() {
    if (rt_) ++rt_->weights_epoch;
    for (auto& copy : copies_) copy->weights_changed();
}

void Net::set_random(uint64_t seed, uint64_t step) {
    seed_ = seed;
    step_ = step;
    if (rt_) rt_->seed = seed, rt_->step = step;
    for (auto& copy : copies_) copy->set_random(seed, step);
}

void Net::set_options(const Options& options) {
    validate(options);
    options_ = options;
    set_thread_count(options.threads);
    for (auto& copy : copies_) copy->options_.layout = options.layout, copy->options_.winograd_max_tile = options.winograd_max_tile;
}

void Net::set_batch(int n) {
    if (n < 1) throw Error("batch size must be at least 1, got " + std::to_string(n));
    if (!plan_current(n, usable_threads())) plan(n);
}

// What set_batch does when the batch size, the split, training or the thread count changed.
void Net::plan(int n) {
    keep_threads_within_the_limit();  // before any primitive is made
    const int threads = usable_threads();
    planned_options_ = options_;
    branches_.reset(), op_time_.clear();
    if (!params_.allocated()) params_.allocate();
    if (options_.parallel == Parallel::batch && threads > 1 && n >= kSplitMinImages * threads && splittable()) {
        set_copies(n, threads);
        for (auto& v : values_) v->shape.n = n;  // for summaries; the copies hold the data
        batch_ = n;
        return;
    }
    copies_.clear();
    if (!rt_) {
        fuse();
        rt_ = std::make_unique<Runtime>(params_);
        rt_->training = training_;
        rt_->seed = seed_;
        rt_->step = step_;
        rt_->image_offset = image_offset_;
        rt_->algorithm_batch = algorithm_batch_;
    }
    rt_->options = options_;
    for (auto& v : values_) v->shape.n = n;
    choose_layouts();
    if (wants_branches(n, threads)) plan_branches(threads);
    plan_memory();
    for (auto& op : ops_) {
        // Ops that run beside others, one thread each, get primitives made for one thread.
        OneThread alone(branches_ && branches_->alone.count(op.get()));
        op->prepare(*rt_);
    }
    if (!backward_step_) backward_step_ = std::make_unique<BackwardStep>();
    backward_step_->prepare(ops_, *rt_);
    if (branches_) prepare_branches();
    batch_ = n;
}

const float* Net::forward(const float* images) {
    if (batch_ == 0) throw Error("Net::forward before set_batch");
    if (!plan_current(batch_, usable_threads())) plan(batch_);  // set_training or set_options since set_batch
    if (!copies_.empty()) return forward_copies(images);
    Value& in = *values_[0];
    std::memcpy(in.data.data(), images, in.shape.numel() * sizeof(float));
    if (branches_) return forward_branches();
    for (size_t i = 0; i < ops_.size(); ++i) {
        Op& op = *ops_[i];
        if (!training_ && op.auxiliary) continue;
        if (!profiling_) {
            op.forward(*rt_);
            continue;
        }
        const auto start = std::chrono::steady_clock::now();
        op.forward(*rt_);
        rt_->stream.wait();
        op_time_entry(i).forward_ms += ms_since(start);
    }
    rt_->stream.wait();
    return value(output_).data.data();
}

void Net::set_profiling(bool on) {
    profiling_ = on;
    op_times_.clear();
    for (auto& copy : copies_) copy->set_profiling(on);
}

Net::OpTime& Net::op_time_entry(size_t op) {
    if (op_times_.size() != ops_.size()) op_times_.assign(ops_.size(), OpTime{});  // ReLUs fused since set_profiling
    return op_times_[op];
}

std::vector<Net::OpTime> Net::op_times() const {
    if (copies_.empty()) {
        std::vector<OpTime> times(ops_.size());
        for (size_t i = 0; i < ops_.size(); ++i) {
            if (op_times_.size() == ops_.size()) times[i] = op_times_[i];
            times[i].op = ops_[i].get();
        }
        return times;
    }
    std::vector<OpTime> times = copies_[0]->op_times();
    const double copies = double(copies_.size());
    for (OpTime& t : times) t.forward_ms /= copies, t.backward_data_ms /= copies, t.backward_weights_ms /= copies;
    for (size_t l = 1; l < copies_.size(); ++l) {
        const std::vector<OpTime> other = copies_[l]->op_times();
        for (size_t i = 0; i < times.size(); ++i) {  // the copies are made from one graph: the same ops
            times[i].forward_ms += other[i].forward_ms / copies;
            times[i].backward_data_ms += other[i].backward_data_ms / copies;
            times[i].backward_weights_ms += other[i].backward_weights_ms / copies;
        }
    }
    return times;
}

float Net::loss(const int* labels) {
    if (!copies_.empty()) return loss_copies(labels);
    Value& out = value(output_);
    float total = softmax_cross_entropy(out.data.data(), labels, out.shape.n, out.shape.c, out.grad.data());
    if (!training_) return total;
    for (const Auxiliary& a : auxiliaries()) {
        Value& v = value(a.logits);
        total += a.weight * softmax_cross_entropy(v.data.data(), labels, v.shape.n, v.shape.c, v.grad.data());
        for (size_t i = 0; i < v.grad.size(); ++i) v.grad.data()[i] *= a.weight;
    }
    return total;
}

void Net::backward(const float* dlogits) {
    if (!copies_.empty()) return backward_copies(dlogits, {});
    Value& out = value(output_);
    std::memcpy(out.grad.data(), dlogits, out.grad.size() * sizeof(float));
    backward();
}

void Net::backward(const std::function<void(const Op&)>& after_op) {
    if (!copies_.empty()) return backward_copies(nullptr, after_op);
    for (auto& v : values_) v->grad_written = false;
    for (Value* v : unconsumed_) std::fill(v->grad.data(), v->grad.data() + v->grad.size(), 0.f);
    value(output_).grad_written = true;
    if (training_)
        for (const Auxiliary& a : auxiliaries()) value(a.logits).grad_written = true;
    rt_->profiling = profiling_;
    for (auto it = ops_.rbegin(); it != ops_.rend(); ++it) {
        if ((*it)->auxiliary && !training_) continue;
        const size_t index = size_t(ops_.rend() - it - 1);
        if (!profiling_) {
            backward_step_->run(index, **it, *rt_);
        } else {
            const double weights_before = rt_->weights_ms;
            const auto start = std::chrono::steady_clock::now();
            backward_step_->run(index, **it, *rt_);
            rt_->stream.wait();
            const double all = ms_since(start);
            OpTime& t = op_time_entry(index);
            t.backward_weights_ms += rt_->weights_ms - weights_before;
            t.backward_data_ms += all - (rt_->weights_ms - weights_before);
        }
        if (after_op) {
            rt_->stream.wait();  // a no-op on the CPU engine, whose primitives run synchronously
            after_op(**it);
        }
    }
    rt_->stream.wait();
}

}  // namespace googlenet
