#include "googlenet/net.h"

#include <cmath>
#include <cstring>

#include "core/batch_split.h"
#include "core/runtime.h"
#include "execution/paths.h"
#include "execution/program.h"
#include "execution/sequential.h"
#include "passes/fusion.h"
#include "ops/ops.h"

namespace googlenet {

Net::Net(Graph graph)
    : graph_(std::move(graph)), program_(std::make_unique<Program>()), state_(std::make_shared<RunState>()) {
    Program& p = *program_;
    auto add_value = [&](const std::string& name, Shape shape) {
        auto v = std::make_unique<Value>();
        v->name = name;
        v->shape = shape;
        v->id = ValueId(p.values.size());
        p.values.push_back(std::move(v));
        return p.values.back().get();
    };
    add_value("input", graph_.shape(0))->needs_grad = false;
    const std::vector<Node>& nodes = graph_.nodes();
    for (size_t i = 0; i < nodes.size(); ++i) {
        // Dropout's salt is its node's index, which every copy of the graph shares.
        std::unique_ptr<Op> op = make_op(nodes[i], graph_.shape(nodes[i].inputs.at(0)), params_, uint64_t(i));
        for (ValueId id : nodes[i].inputs) op->inputs.push_back(p.values.at(size_t(id)).get());
        op->output = add_value(op->describe(), graph_.shape(ValueId(i) + 1));
        op->auxiliary = nodes[i].auxiliary;
        p.ops.push_back(op.get());
        p.nodes.push_back(std::move(op));
    }
    p.output = graph_.output();
    p.auxiliaries = graph_.auxiliaries();
    for (const Node& node : nodes) has_batch_norm_ = has_batch_norm_ || node.op.kind == OpAttributes::batch_norm;
}

Net::~Net() = default;
Net::Net(Net&&) noexcept = default;
Net& Net::operator=(Net&&) noexcept = default;

ValueId Net::output() const { return program_->output; }
const Value& Net::value(ValueId id) const { return program_->value(id); }
Value& Net::value(ValueId id) { return program_->value(id); }
int Net::value_count() const { return int(program_->values.size()); }
const std::vector<Op*>& Net::ops() const { return program_->ops; }

void Net::set_training(bool training) {
    state_->training = training;
    weights_changed();
}

bool Net::training() const { return state_->training; }

void Net::weights_changed() { ++state_->weights_epoch; }

void Net::set_random(uint64_t seed, uint64_t step) {
    state_->seed = seed;
    state_->step = step;
}

void Net::set_options(const Options& options) {
    validate(options);
    options_ = options;
    options_.precision = resolve_precision(options.precision);  // once, not at every forward
    set_thread_count(options.threads);
}

void Net::set_batch(int n) {
    if (n < 1) throw Error("batch size must be at least 1, got " + std::to_string(n));
    if (!plan_current(n, usable_threads())) plan(n);
}

bool Net::splittable() const {
    if (value(0).needs_grad) return false;  // the input's gradient is wanted whole
    // In evaluation batch norm uses its running statistics, the same in every copy.
    return !state_->training || !has_batch_norm();
}

// bf16 convolutions make their backward primitives only for training (and forward_inference ones
// for evaluation); evaluation folds batch norms, may split a batch-norm network and leaves the
// auxiliary classifiers out. For these a change between training and evaluation plans again.
bool Net::plans_by_mode() const {
    return options_.precision == Precision::bf16 || options_.precision == Precision::int8 || has_batch_norm() ||
           !graph_.auxiliaries().empty();
}

bool Net::has_batch_norm() const { return has_batch_norm_; }

void Net::set_quantization(ActivationRanges ranges) {
    const size_t values = size_t(value_count());
    if (ranges.lo.size() != values || ranges.hi.size() != values)
        throw Error("activation ranges: " + std::to_string(ranges.hi.size()) + " for a network of " + std::to_string(values) +
                    " values");
    for (size_t v = 0; v < values; ++v)
        if (!std::isfinite(ranges.lo[v]) || !std::isfinite(ranges.hi[v]) || ranges.lo[v] > ranges.hi[v])
            throw Error("activation ranges: value " + std::to_string(v) + " (" + value(ValueId(v)).name + ") has [" +
                        std::to_string(ranges.lo[v]) + ", " + std::to_string(ranges.hi[v]) + "]");
    ranges_ = std::move(ranges);
    executor_ = nullptr;  // plans again
}

bool Net::wants_paths(int n, int threads) const {
    return options_.parallel == Parallel::batch && !state_->training && threads > 1 && n < kSplitMinImages * threads;
}

// Whether what set_batch last planned still holds for a batch of n on `threads`.
bool Net::plan_current(int n, int threads) const {
    return executor_ && n == batch_ && options_ == planned_options_ && (!split_ || split_->copies() == threads) &&
           (!plans_by_mode() || planned_training_ == state_->training) &&
           wants_paths(n, threads) == (paths_ != nullptr) && (!paths_ || paths_->threads() == threads);
}

// What set_batch does when the batch size, the split, training or the thread count changed:
// picks the executor and plans the program for it.
void Net::plan(int n) {
    keep_threads_within_the_limit();  // before any primitive is made
    if (options_.precision == Precision::int8 && state_->training)
        throw Error("precision int8 is for inference only: train in fp32 or bf16, then quantize");
    if (options_.precision == Precision::int8 && ranges_.empty())
        throw Error("precision int8 needs the activations' ranges: calibrate the network first (calibrate() and "
                    "Net::set_quantization, or googlenet quantize)");
    const int threads = usable_threads();
    planned_options_ = options_;
    executor_ = nullptr;
    planned_training_ = state_->training;
    paths_.reset();
    if (!params_.allocated()) params_.allocate();
    Program& p = *program_;
    fuse();  // the batch split's callers go through this net's ops too (BatchSplit::backward)
    if (options_.parallel == Parallel::batch && threads > 1 && n >= kSplitMinImages * threads && splittable()) {
        if (!split_ || split_->copies() != threads) {
            split_ = std::make_unique<BatchSplit>(*this, threads);
            // This net's own activations are not used while the batch runs split.
            p.activations = Buffer(), p.gradients = Buffer();
        }
        split_->set_batch(n);
        for (auto& v : p.values) v->shape.n = n;  // for summaries; the copies hold the data
        batch_ = n;
        executor_ = split_.get();
        return;
    }
    split_.reset();
    if (!p.rt) {
        p.rt = std::make_unique<Runtime>(params_, *state_);
        p.rt->image_offset = image_offset_;
        p.rt->algorithm_batch = algorithm_batch_;
        sequential_ = std::make_unique<SequentialExecutor>(p);
        sequential_->set_profiling(profiling_);
    }
    p.rt->options = options_;
    for (auto& v : p.values) v->shape.n = n;
    choose_layouts();
    if (wants_paths(n, threads)) paths_ = std::make_unique<PathsExecutor>(p, *sequential_, threads);
    plan_memory();
    for (auto& op : p.ops) {
        // Ops that run beside others, one thread each, get primitives made for one thread.
        OneThread alone(paths_ && paths_->alone(op));
        op->prepare(*p.rt);
    }
    p.backward_step.prepare(p.ops, *p.rt);
    if (paths_) paths_->prepare();
    batch_ = n;
    executor_ = paths_ ? static_cast<Executor*>(paths_.get()) : sequential_.get();
}

Execution Net::execution() const {
    Execution e;
    if (executor_) executor_->describe(e);
    return e;
}

const float* Net::forward(const float* images) {
    if (batch_ == 0) throw Error("Net::forward before set_batch");
    if (!plan_current(batch_, usable_threads())) plan(batch_);  // set_training or set_options since set_batch
    return executor_->forward(images);
}

const float* Net::forward_observed(const float* images, const std::function<void(const Value&)>& observe) {
    if (batch_ == 0) throw Error("Net::forward_observed before set_batch");
    if (!plan_current(batch_, usable_threads())) plan(batch_);
    if (executor_ != sequential_.get()) throw Error("Net::forward_observed needs every op on all threads (Parallel::ops)");
    return sequential_->forward(images, observe);
}

float Net::loss(const int* labels) {
    if (!executor_) throw Error("Net::loss before forward");
    return executor_->loss(labels);
}

void Net::backward(const float* dlogits) {
    if (!executor_) throw Error("Net::backward before forward");
    executor_->backward(dlogits, {});
}

void Net::backward(const std::function<void(const Op&)>& after_op) {
    if (!executor_) throw Error("Net::backward before forward");
    executor_->backward(nullptr, after_op);
}

void Net::set_profiling(bool on) {
    profiling_ = on;
    if (sequential_) sequential_->set_profiling(on);
    if (split_) split_->set_profiling(on);
}

std::vector<OpTime> Net::op_times() const {
    if (executor_) return executor_->op_times();
    std::vector<OpTime> times;
    for (const auto& op : ops()) times.push_back(OpTime{op});
    return times;
}

}  // namespace googlenet
