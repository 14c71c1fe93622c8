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
#include "ops/ops.h"

namespace googlenet {

Net::Net(int channels, int height, int width) {
    add_value("input", Shape{1, channels, height, width});
    values_[0]->needs_grad = false;
}

Net::~Net() = default;
Net::Net(Net&&) noexcept = default;
Net& Net::operator=(Net&&) noexcept = default;

ValueId Net::add_value(const std::string& name, Shape shape) {
    auto v = std::make_unique<Value>();
    v->name = name;
    v->shape = shape;
    values_.push_back(std::move(v));
    return ValueId(values_.size()) - 1;
}

ValueId Net::add_op(std::unique_ptr<Op> op, const std::vector<ValueId>& inputs, Shape out) {
    if (batch_ != 0) throw Error("ops cannot be added to a net that has already run");
    for (ValueId id : inputs) op->inputs.push_back(values_.at(size_t(id)).get());
    const std::string name = op->describe();
    if (out.c < 1 || out.h < 1 || out.w < 1)
        throw Error("input too small: " + name + " (op " + std::to_string(ops_.size()) +
                    ") would produce " + out.str() + " from " + op->inputs[0]->shape.str());
    ValueId id = add_value(name, out);
    op->output = values_.back().get();
    ops_.push_back(std::move(op));
    output_ = id;
    return id;
}

ValueId Net::conv(ValueId x, ConvSpec s, const std::string& param_name) {
    const Shape in = value(x).shape;
    Shape out{1, s.out_channels, window_positions(in.h, s.kernel, s.stride, s.pad),
              window_positions(in.w, s.kernel, s.stride, s.pad)};
    return remembered(add_op(make_conv(params_, in.c, s, param_name), {x}, out), [=](Net& n) { n.conv(x, s, param_name); });
}

ValueId Net::relu(ValueId x) {
    return remembered(add_op(make_relu(), {x}, value(x).shape), [=](Net& n) { n.relu(x); });
}

ValueId Net::max_pool(ValueId x, int kernel, int stride, int pad, bool ceil_mode) {
    const Shape in = value(x).shape;
    Shape out{1, in.c, window_positions(in.h, kernel, stride, pad, ceil_mode), window_positions(in.w, kernel, stride, pad, ceil_mode)};
    return remembered(add_op(make_max_pool(kernel, stride, pad, ceil_mode), {x}, out),
                      [=](Net& n) { n.max_pool(x, kernel, stride, pad, ceil_mode); });
}

ValueId Net::batch_norm(ValueId x, float eps, float momentum, const std::string& param_name) {
    if (!(eps > 0.f) || !(momentum >= 0.f && momentum <= 1.f))
        throw Error("batch-norm " + param_name + ": eps must be positive and momentum in [0, 1]");
    return remembered(add_op(make_batch_norm(params_, value(x).shape.c, eps, momentum, param_name), {x}, value(x).shape),
                      [=](Net& n) { n.batch_norm(x, eps, momentum, param_name); });
}

ValueId Net::adaptive_avg_pool(ValueId x, int out_h, int out_w) {
    const Shape in = value(x).shape;
    if (out_h < 1 || out_w < 1 || out_h > in.h || out_w > in.w)
        throw Error("adaptive-avg-pool to " + std::to_string(out_h) + "x" + std::to_string(out_w) + ": input too small (" +
                    in.str() + ")");
    return remembered(add_op(make_adaptive_avg_pool(out_h, out_w), {x}, Shape{1, in.c, out_h, out_w}),
                      [=](Net& n) { n.adaptive_avg_pool(x, out_h, out_w); });
}

ValueId Net::lrn(ValueId x, int size, float alpha, float beta, float k) {
    if (size < 1 || size % 2 == 0) throw Error("lrn: the window size must be odd, not " + std::to_string(size));
    return remembered(add_op(make_lrn(size, alpha, beta, k), {x}, value(x).shape), [=](Net& n) { n.lrn(x, size, alpha, beta, k); });
}

ValueId Net::dropout(ValueId x, float p) {
    if (!(p >= 0.f && p < 1.f)) throw Error("dropout: p must be in [0, 1), not " + std::to_string(p));
    return remembered(add_op(make_dropout(p, uint64_t(ops_.size())), {x}, value(x).shape), [=](Net& n) { n.dropout(x, p); });
}

void Net::set_training(bool training) {
    training_ = training;
    if (rt_) rt_->training = training;
    for (auto& lane : lanes_) lane->set_training(training);
    weights_changed();
}

void Net::weights_changed() {
    if (rt_) ++rt_->weights_epoch;
    for (auto& lane : lanes_) lane->weights_changed();
}

void Net::set_random(uint64_t seed, uint64_t step) {
    seed_ = seed;
    step_ = step;
    if (rt_) rt_->seed = seed, rt_->step = step;
    for (auto& lane : lanes_) lane->set_random(seed, step);
}

ValueId Net::avg_pool(ValueId x, int kernel, int stride, int pad) {
    const Shape in = value(x).shape;
    Shape out{1, in.c, window_positions(in.h, kernel, stride, pad), window_positions(in.w, kernel, stride, pad)};
    return remembered(add_op(make_avg_pool(kernel, kernel, stride, pad), {x}, out), [=](Net& n) { n.avg_pool(x, kernel, stride, pad); });
}

ValueId Net::normalize(ValueId x, std::vector<float> mean, std::vector<float> stddev) {
    const int c = value(x).shape.c;
    if (int(mean.size()) != c || int(stddev.size()) != c)
        throw Error("normalize: " + std::to_string(mean.size()) + " means and " + std::to_string(stddev.size()) +
                    " standard deviations for " + std::to_string(c) + " channels");
    for (float s : stddev)
        if (!(s != 0.f && std::isfinite(s))) throw Error("normalize: a standard deviation must be finite and non-zero");
    return remembered(add_op(make_normalize(mean, stddev), {x}, value(x).shape), [=](Net& n) { n.normalize(x, mean, stddev); });
}

ValueId Net::global_avg_pool(ValueId x) {
    const Shape in = value(x).shape;
    return remembered(add_op(make_avg_pool(in.h, in.w, 1, 0), {x}, Shape{1, in.c, 1, 1}), [=](Net& n) { n.global_avg_pool(x); });
}

ValueId Net::concat(const std::vector<ValueId>& xs) {
    Shape out = value(xs.at(0)).shape;
    out.c = 0;
    for (ValueId x : xs) {
        const Shape s = value(x).shape;
        if (s.h != out.h || s.w != out.w)
            throw Error("concat: spatial sizes differ (" + s.str() + " vs " + out.str() + ")");
        out.c += s.c;
    }
    return remembered(add_op(make_concat(), xs, out), [=](Net& n) { n.concat(xs); });
}

ValueId Net::linear(ValueId x, int out_features, const std::string& param_name) {
    if (value(x).shape.per_image() > size_t(1) << 30)
        throw Error("linear " + param_name + ": " + std::to_string(value(x).shape.per_image()) +
                    " input features are too many (flatten a smaller map)");
    const int in = int(value(x).shape.per_image());
    return remembered(add_op(make_linear(params_, in, out_features, param_name), {x}, Shape{1, out_features, 1, 1}),
                      [=](Net& n) { n.linear(x, out_features, param_name); });
}

int64_t Net::macs_per_image() const {
    int64_t total = 0;
    for (const auto& op : ops_)
        if (!op->auxiliary) total += op->macs_per_image();
    return total;
}

std::vector<Net::Layer> Net::layers() const {
    std::vector<Layer> out;
    for (const auto& op : ops_) {
        Layer l;
        l.label = label(*op);
        l.output = op->output->shape;
        l.output.n = 1;
        for (int i : op->param_indices()) l.parameters += int64_t(params_.param(i).size);
        l.macs = op->macs_per_image();
        l.auxiliary = op->auxiliary;
        for (const auto& [id, name] : block_names_)
            if (values_[size_t(id)].get() == op->output) l.block = name;
        out.push_back(l);
    }
    return out;
}

std::string Net::summary() const {
    auto thousands = [](int64_t v) {
        std::string s = std::to_string(v);
        for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
        return s;
    };
    Shape in = values_[0]->shape;
    in.n = 1;
    std::string out = fmt::format("{:<34} {:<20} {:>11} {:>13}\n", "layer", "output shape", "parameters", "multiply-adds");
    out += fmt::format("{:<34} {}\n", "input", in.str());
    int64_t total_params = 0, total_macs = 0, aux_params = 0, aux_macs = 0;
    for (const Layer& l : layers()) {
        (l.auxiliary ? aux_params : total_params) += l.parameters;
        (l.auxiliary ? aux_macs : total_macs) += l.macs;
        std::string row = fmt::format("{:<34} {:<20} {:>11} {:>13}", (l.auxiliary ? "  aux: " : "") + l.label, l.output.str(),
                                      l.parameters ? thousands(l.parameters) : "", l.macs ? thousands(l.macs) : "");
        out += row.erase(row.find_last_not_of(' ') + 1) + "\n";
        if (!l.block.empty()) out += l.block + " output shape: " + l.output.str() + "\n";
    }
    out += fmt::format("total: {} parameters, {} multiply-adds per {}x{}x{} image\n", thousands(total_params),
                       thousands(total_macs), in.c, in.h, in.w);
    if (!auxiliaries_.empty())
        out += fmt::format("with the {} auxiliary classifiers (training only): {} parameters, {} multiply-adds\n",
                           auxiliaries_.size(), thousands(total_params + aux_params), thousands(total_macs + aux_macs));
    return out;
}

std::string Net::label(const Op& op) const {
    const std::vector<int> params = op.param_indices();
    if (params.empty()) return op.describe();
    const std::string& name = params_.param(params[0]).name;
    return op.describe() + " (" + name.substr(0, name.rfind('.')) + ")";
}

void Net::set_options(const Options& options) {
    validate(options);
    options_ = options;
    set_thread_count(options.threads);
    for (auto& lane : lanes_) lane->options_.layout = options.layout, lane->options_.winograd_max_tile = options.winograd_max_tile;
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
        set_lanes(n, threads);
        for (auto& v : values_) v->shape.n = n;  // for summaries; the copies hold the data
        batch_ = n;
        return;
    }
    lanes_.clear();
    if (!rt_) {
        fuse_conv_relu();
        hand_on_relu_masks();
        rt_ = std::make_unique<Runtime>(params_);
        rt_->training = training_;
        rt_->seed = seed_;
        rt_->step = step_;
        rt_->image_offset = image_offset_;
        rt_->choice_batch = choice_batch_;
    }
    rt_->options = options_;
    // The input image stays as the user gives it; everything else takes the canonical layout,
    // except 1x1 maps whose channels do not fill whole blocks (the linear layer reads a 1x1 map
    // as an N x C matrix, which a blocked or NHWC layout is only when no channel is padding), and
    // around a concatenation whose channel ranges do not fall on block boundaries.
    const Layout canonical = options_.layout;
    for (auto& v : values_) {
        v->shape.n = n;
        const bool matrix_compatible = v->shape.h * v->shape.w > 1 || v->shape.c % channel_block() == 0;
        v->layout = v.get() == values_[0].get() || !matrix_compatible ? Layout::nchw : canonical;
    }
    for (auto& op : ops_) {
        bool aligned = true;
        for (const Value* in : op->inputs) aligned = aligned && in->shape.c % channel_block() == 0;
        if (op->slices_channels() && !aligned)
            for (Value* v : op->inputs) v->layout = op->output->layout = Layout::nchw;
    }
    if (wants_branches(n, threads)) plan_branches(threads);
    plan_activations();
    plan_gradients();
    // Scratch takes the second and later gradients of values read by several ops (Runtime::grad_target).
    size_t shared = 0;
    for (const auto& [v, count] : reader_counts())
        if (count > 1 && v->needs_grad) shared = std::max(shared, v->grad.size());
    rt_->resize_scratch(shared);
    for (auto& op : ops_) {
        // Ops that run beside others, one thread each, get primitives made for one thread.
        OneThread alone(branches_ && branches_->alone.count(op.get()));
        op->prepare(*rt_);
    }
    if (branches_) prepare_branches();
    batch_ = n;
}

void Net::add_auxiliary(size_t first_op, ValueId logits, float weight) {
    if (batch_ != 0) throw Error("auxiliary classifiers cannot be added to a net that has already run");
    if (first_op >= ops_.size()) throw Error("an auxiliary classifier needs at least one op");
    for (size_t i = first_op; i < ops_.size(); ++i) ops_[i]->auxiliary = true;
    auxiliaries_.push_back({logits, weight});
    remembered(0, [=](Net& n) { n.add_auxiliary(first_op, logits, weight); });
}

const float* Net::forward(const float* images) {
    if (batch_ == 0) throw Error("Net::forward before set_batch");
    if (!plan_current(batch_, usable_threads())) plan(batch_);  // set_training or set_options since set_batch
    if (!lanes_.empty()) return forward_lanes(images);
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
    for (auto& lane : lanes_) lane->set_profiling(on);
}

Net::OpTime& Net::op_time_entry(size_t op) {
    if (op_times_.size() != ops_.size()) op_times_.assign(ops_.size(), OpTime{});  // ReLUs fused since set_profiling
    return op_times_[op];
}

std::vector<Net::OpTime> Net::op_times() const {
    if (lanes_.empty()) {
        std::vector<OpTime> times(ops_.size());
        for (size_t i = 0; i < ops_.size(); ++i) {
            if (op_times_.size() == ops_.size()) times[i] = op_times_[i];
            times[i].op = ops_[i].get();
        }
        return times;
    }
    std::vector<OpTime> times = lanes_[0]->op_times();
    const double copies = double(lanes_.size());
    for (OpTime& t : times) t.forward_ms /= copies, t.backward_data_ms /= copies, t.backward_weights_ms /= copies;
    for (size_t l = 1; l < lanes_.size(); ++l) {
        const std::vector<OpTime> other = lanes_[l]->op_times();
        for (size_t i = 0; i < times.size(); ++i) {  // the copies replay one recipe: the same ops
            times[i].forward_ms += other[i].forward_ms / copies;
            times[i].backward_data_ms += other[i].backward_data_ms / copies;
            times[i].backward_weights_ms += other[i].backward_weights_ms / copies;
        }
    }
    return times;
}

float Net::loss(const int* labels) {
    if (!lanes_.empty()) return loss_lanes(labels);
    Value& out = value(output_);
    float total = softmax_cross_entropy(out.data.data(), labels, out.shape.n, out.shape.c, out.grad.data());
    if (!training_) return total;
    for (const Auxiliary& a : auxiliaries_) {
        Value& v = value(a.logits);
        total += a.weight * softmax_cross_entropy(v.data.data(), labels, v.shape.n, v.shape.c, v.grad.data());
        for (size_t i = 0; i < v.grad.size(); ++i) v.grad.data()[i] *= a.weight;
    }
    return total;
}

void Net::backward(const float* dlogits) {
    if (!lanes_.empty()) return backward_lanes(dlogits, {});
    Value& out = value(output_);
    std::memcpy(out.grad.data(), dlogits, out.grad.size() * sizeof(float));
    backward();
}

void Net::backward() { backward(std::function<void(const Op&)>{}); }

void Net::backward(const std::function<void(const Op&)>& after_op) {
    if (!lanes_.empty()) return backward_lanes(nullptr, after_op);
    for (auto& v : values_) v->grad_written = false;
    for (Value* v : unconsumed_) std::fill(v->grad.data(), v->grad.data() + v->grad.size(), 0.f);
    value(output_).grad_written = true;
    if (training_)
        for (const Auxiliary& a : auxiliaries_) value(a.logits).grad_written = true;
    rt_->profiling = profiling_;
    for (auto it = ops_.rbegin(); it != ops_.rend(); ++it) {
        if ((*it)->auxiliary && !training_) continue;
        if (!profiling_) {
            (*it)->backward(*rt_);
        } else {
            const double weights_before = rt_->weights_ms;
            const auto start = std::chrono::steady_clock::now();
            (*it)->backward(*rt_);
            rt_->stream.wait();
            const double all = ms_since(start);
            OpTime& t = op_time_entry(size_t(ops_.rend() - it - 1));
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
