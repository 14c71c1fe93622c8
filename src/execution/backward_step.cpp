#include "execution/backward_step.h"

namespace googlenet {

void BackwardStep::prepare(const std::vector<std::unique_ptr<Op>>& ops, Runtime& rt) {
    masks_.clear();
    for (const auto& op : ops) {
        std::unique_ptr<ReluMaskBackward> mask;
        if (op->relu_mask == ReluMask::own && !op->applies_relu_mask()) {
            mask = std::make_unique<ReluMaskBackward>();
            mask->prepare(rt, *op->output);
        }
        masks_.push_back(std::move(mask));
    }
}

void BackwardStep::run(size_t index, Op& op, Runtime& rt) {
    if (masks_.at(index)) masks_[index]->apply(rt, *op.output);
    const size_t inputs = op.inputs.size();
    if (later_.size() < inputs) later_.resize(inputs);
    rt.input_grads.assign(inputs, nullptr);
    for (size_t i = 0; i < inputs; ++i) {
        Value& v = *op.inputs[i];
        if (!v.needs_grad) continue;
        bool written = v.grad_written;
        for (size_t j = 0; j < i; ++j) written = written || op.inputs[j] == &v;  // a value given twice
        if (!written) {
            rt.input_grads[i] = v.grad.data();
            continue;
        }
        if (later_[i].size() < v.grad.size()) later_[i].resize(v.grad.size());
        rt.input_grads[i] = later_[i].data();
    }
    op.backward(rt);
    rt.stream.wait();
    for (size_t i = 0; i < inputs; ++i) {
        Value& v = *op.inputs[i];
        const float* written = rt.input_grads[i];
        if (!written) continue;
        if (written != v.grad.data()) {
            float* g = v.grad.data();
            const long n = long(v.grad.size());
#pragma omp parallel for simd
            for (long k = 0; k < n; ++k) g[k] += written[k];
        }
        v.grad_written = true;
    }
    rt.input_grads.clear();
}

}  // namespace googlenet
