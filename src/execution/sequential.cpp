#include "execution/sequential.h"

#include <chrono>
#include <cstring>

#include "ops/ops.h"

namespace googlenet {

const float* SequentialExecutor::forward(const float* images, const std::function<void(const Value&)>& observe) {
    p_.set_input(images);
    Runtime& rt = *p_.rt;
    if (observe) observe(*p_.values[0]);
    for (size_t i = 0; i < p_.ops.size(); ++i) {
        Op& op = *p_.ops[i];
        if (!rt.state.training && op.auxiliary) continue;
        if (observe) {
            op.forward(rt);
            rt.stream.wait();
            observe(*op.output);
            continue;
        }
        if (!profiling_) {
            op.forward(rt);
            continue;
        }
        const auto start = std::chrono::steady_clock::now();
        op.forward(rt);
        rt.stream.wait();
        time_of(i).forward_ms += ms_since(start);
    }
    rt.stream.wait();
    return p_.value(p_.output).data.data();
}

float SequentialExecutor::loss(const int* labels) {
    Value& out = p_.value(p_.output);
    float total = softmax_cross_entropy(out.data.data(), labels, out.shape.n, out.shape.c, out.grad.data());
    if (!p_.rt->state.training) return total;
    for (const Graph::Auxiliary& a : p_.auxiliaries) {
        Value& v = p_.value(a.logits);
        total += a.weight * softmax_cross_entropy(v.data.data(), labels, v.shape.n, v.shape.c, v.grad.data());
        for (size_t i = 0; i < v.grad.size(); ++i) v.grad.data()[i] *= a.weight;
    }
    return total;
}

void SequentialExecutor::backward(const float* dlogits, const AfterOp& after_op) {
    Runtime& rt = *p_.rt;
    if (dlogits) {
        Value& out = p_.value(p_.output);
        std::memcpy(out.grad.data(), dlogits, out.grad.size() * sizeof(float));
    }
    for (auto& v : p_.values) v->grad_written = false;
    for (Value* v : p_.unconsumed) std::fill(v->grad.data(), v->grad.data() + v->grad.size(), 0.f);
    p_.value(p_.output).grad_written = true;
    if (rt.state.training)
        for (const Graph::Auxiliary& a : p_.auxiliaries) p_.value(a.logits).grad_written = true;
    rt.profiling = profiling_;
    for (size_t index = p_.ops.size(); index-- > 0;) {
        Op& op = *p_.ops[index];
        if (op.auxiliary && !rt.state.training) continue;
        if (!profiling_) {
            p_.backward_step.run(index, op, rt);
        } else {
            const double weights_before = rt.weights_ms;
            const auto start = std::chrono::steady_clock::now();
            p_.backward_step.run(index, op, rt);
            rt.stream.wait();
            const double all = ms_since(start);
            OpTime& t = time_of(index);
            t.backward_weights_ms += rt.weights_ms - weights_before;
            t.backward_data_ms += all - (rt.weights_ms - weights_before);
        }
        if (after_op) {
            rt.stream.wait();  // a no-op on the CPU engine, whose primitives run synchronously
            after_op(op);
        }
    }
    rt.stream.wait();
}

void SequentialExecutor::set_profiling(bool on) {
    profiling_ = on;
    times_.clear();
}

OpTime& SequentialExecutor::time_of(size_t op) {
    if (times_.size() != p_.ops.size()) times_.assign(p_.ops.size(), OpTime{});
    return times_[op];
}

std::vector<OpTime> SequentialExecutor::op_times() const {
    std::vector<OpTime> times(p_.ops.size());
    for (size_t i = 0; i < p_.ops.size(); ++i) {
        if (times_.size() == p_.ops.size()) times[i] = times_[i];
        times[i].op = p_.ops[i];
    }
    return times;
}

void SequentialExecutor::describe(Execution& e) const {
    e.activation_floats += p_.activations.size();
    e.gradient_floats += p_.gradients.size();
}

}  // namespace googlenet
