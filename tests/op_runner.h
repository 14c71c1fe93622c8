// Runs one op on its own, outside a Net, on given inputs and parameters, backward as every
// executor runs it (src/execution/backward_step.h).
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "core/runtime.h"
#include "execution/backward_step.h"
#include "ops/ops.h"

namespace googlenet::testing {

class OpRunner {
public:
    // The op prepared with the engine's `options` (precision resolved), in training or evaluation.
    OpRunner(const std::function<std::unique_ptr<Op>(ParamStore&)>& make, const std::vector<Shape>& ins,
             Shape out, const Options& options = {}, bool training = true) {
        ops_.push_back(make(params_));
        op_ = ops_[0].get();
        params_.allocate();
        state_.training = training;
        rt_ = std::make_unique<Runtime>(params_, state_);
        rt_->options = options;
        for (const Shape& s : ins) op_->inputs.push_back(add(s));
        op_->output = add(out);
        // What the precision pass gives a convolution in a bf16 plan (other ops follow their values' types).
        op_->compute = options.precision == Precision::bf16 ? DataType::bf16 : DataType::f32;
        op_->prepare(*rt_);
        step_.prepare({op_}, *rt_);
    }

    void set_input(size_t i, const std::vector<float>& x) { copy(op_->inputs.at(i)->data, x); }
    void set_param(int i, const std::vector<float>& v) {
        ASSERT_EQ(v.size(), params_.param(i).size);
        std::memcpy(params_.value(i), v.data(), v.size() * sizeof(float));
    }
    const float* forward() {
        op_->forward(*rt_);
        rt_->stream.wait();
        return op_->output->data.data();
    }
    void backward(const std::vector<float>& dy) {
        copy(op_->output->grad, dy);
        for (Value* v : op_->inputs) v->grad_written = false;
        step_.run(0, *op_, *rt_);
    }
    // As backward, but the inputs' gradients count as already written by another consumer.
    void backward_accumulating(const std::vector<float>& dy) {
        copy(op_->output->grad, dy);
        for (Value* v : op_->inputs) v->grad_written = true;
        step_.run(0, *op_, *rt_);
    }
    const float* input_grad(size_t i) const { return op_->inputs.at(i)->grad.data(); }
    Value& input(size_t i) { return *op_->inputs.at(i); }
    const float* param_grad(int i) { return params_.grad(i); }
    ParamStore& params() { return params_; }
    Runtime& runtime() { return *rt_; }
    RunState& state() { return state_; }  // what the runtime runs as (training, random draws)

private:
    Value* add(Shape s) {
        auto v = std::make_unique<Value>();
        v->shape = s;
        datas_.emplace_back(s.numel());
        v->data = TensorView(datas_.back().data(), s.numel());
        grads_.emplace_back(s.numel());
        v->grad = TensorView(grads_.back().data(), s.numel());
        values_.push_back(std::move(v));
        return values_.back().get();
    }
    template <class T>
    static void copy(T& dst, const std::vector<float>& src) {
        ASSERT_EQ(dst.size(), src.size());
        std::memcpy(dst.data(), src.data(), src.size() * sizeof(float));
    }

    ParamStore params_;
    RunState state_;
    std::unique_ptr<Runtime> rt_;
    std::vector<std::unique_ptr<Value>> values_;
    std::deque<Buffer> datas_, grads_;  // a deque keeps earlier elements in place as it grows
    std::vector<std::unique_ptr<Op>> ops_;  // the one op, as BackwardStep takes them
    Op* op_ = nullptr;
    BackwardStep step_;
};

}  // namespace googlenet::testing
