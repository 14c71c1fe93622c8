#include "execution/backward_step.h"

#include "core/bf16.h"

namespace googlenet {

void BackwardStep::prepare(const std::vector<Op*>& ops, Runtime& rt) {
    masks_.clear();
    for (const auto& op : ops) {
        std::unique_ptr<ReluMaskBackward> mask;
        // int8 codes are for inference only: no backward reads them.
        if (op->relu_mask == ReluMask::own && !op->applies_relu_mask() && op->output->type != DataType::u8) {
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
        if (written != v.grad.data()) add(v, written);
        v.grad_written = true;
    }
    rt.input_grads.clear();
}

// The sum in f32 and, for bf16 gradients, one rounding to nearest even, as oneDNN's conversions
// round. (A oneDNN sum primitive per value would do the same; one loop keeps the rule in one place.)
void BackwardStep::add(Value& v, const float* later) {
    if (v.type == DataType::f32) {
        float* g = v.grad.data();
        const long n = long(v.grad.size());
#pragma omp parallel for simd
        for (long k = 0; k < n; ++k) g[k] += later[k];
        return;
    }
    if (v.layout == Layout::blocked) throw Error("internal: bf16 gradient of " + v.name + " in a blocked layout");
    uint16_t* g = reinterpret_cast<uint16_t*>(v.grad.data());
    const uint16_t* l = reinterpret_cast<const uint16_t*>(later);
    const long n = long(v.shape.numel());
#pragma omp parallel for simd
    for (long k = 0; k < n; ++k) g[k] = to_bf16(from_bf16(g[k]) + from_bf16(l[k]));
}

}  // namespace googlenet
