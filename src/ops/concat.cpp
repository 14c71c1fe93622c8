// Channel concatenation. In NCHW each input is one contiguous run per image in the output, so
// forward and backward are plain block copies; no oneDNN primitive is needed for that.
#include <cstring>

#include "core/runtime.h"
#include "ops/ops.h"

namespace googlenet {
namespace {

class Concat final : public Op {
public:
    std::string describe() const override { return "concat x" + std::to_string(inputs.size()); }

    void prepare(Runtime&) override {}

    void forward(Runtime&) override {
        const int n = output->shape.n;
        const size_t out_stride = output->shape.per_image();
#pragma omp parallel for collapse(2)
        for (int b = 0; b < n; ++b)
            for (size_t i = 0; i < inputs.size(); ++i) {
                const Value& in = *inputs[i];
                const size_t len = in.shape.per_image();
                std::memcpy(output->data.data() + b * out_stride + offset(i),
                            in.data.data() + b * len, len * sizeof(float));
            }
    }

    void backward(Runtime& rt) override {
        const int n = output->shape.n;
        const size_t out_stride = output->shape.per_image();
        for (size_t i = 0; i < inputs.size(); ++i) {
            Value& in = *inputs[i];
            if (!in.needs_grad) continue;
            const size_t len = in.shape.per_image();
            float* target = rt.grad_target(in);
#pragma omp parallel for
            for (int b = 0; b < n; ++b)
                std::memcpy(target + b * len, output->grad.data() + b * out_stride + offset(i),
                            len * sizeof(float));
            rt.grad_commit(in, target);
        }
    }

private:
    size_t offset(size_t input) const {
        size_t off = 0;
        for (size_t j = 0; j < input; ++j) off += inputs[j]->shape.per_image();
        return off;
    }
};

}  // namespace

std::unique_ptr<Op> make_concat() { return std::make_unique<Concat>(); }

}  // namespace googlenet
