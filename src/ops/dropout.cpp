// Dropout: in training, each element is kept with probability 1 - p and scaled by 1 / (1 - p)
// (PyTorch's inverted dropout); in evaluation it passes its input through. Written by hand because
// oneDNN has no dropout primitive in 3.2. The mask comes from a counter-based hash of (seed, step,
// element), so a run, and a resumed run, draws the same masks.
#include <cstring>

#include "core/runtime.h"
#include "ops/ops.h"

namespace googlenet {
namespace {

uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

class Dropout final : public Op {
public:
    // `salt`: the op's position in its network, so two dropout layers draw different masks.
    Dropout(float p, uint64_t salt) : p_(p), salt_(salt) {}

    OpAttributes attributes() const override {
        OpAttributes a{OpAttributes::dropout};
        a.p = p_;
        return a;
    }

    std::vector<const Value*> saved_for_backward() const override { return {}; }  // it keeps its mask

    void prepare(Runtime&) override {
        if (inputs[0]->layout != output->layout) throw Error("dropout: input and output layouts differ");
        if (p_ > 0.f) mask_ = Buffer(output->data.size());  // p = 0 passes through: no mask
    }

    void forward(Runtime& rt) override {
        const float* x = inputs[0]->data.data();
        float* y = output->data.data();
        const size_t n = output->data.size();
        training_ = rt.state.training && p_ > 0.f;  // at p = 0 the mask would still drop 2^-32 of the values
        if (!training_) {
            std::memcpy(y, x, n * sizeof(float));
            return;
        }
        const uint64_t key = splitmix64(splitmix64(rt.state.seed) ^ splitmix64(rt.state.step) ^ splitmix64(~salt_));
        const uint32_t keep_below = uint32_t(double(1.0 - p_) * 4294967296.0 > 4294967295.0 ? 4294967295.0
                                                                                                : double(1.0 - p_) * 4294967296.0);
        const float scale = p_ < 1.f ? 1.f / (1.f - p_) : 0.f;
        float* m = mask_.data();
        // Indexed within the whole batch, so a batch split over threads draws the same masks.
        const uint64_t first = uint64_t(rt.image_offset) * uint64_t(n / size_t(output->shape.n));
#pragma omp parallel for
        for (size_t i = 0; i < n; ++i) {
            m[i] = uint32_t(splitmix64(key + first + i) >> 32) < keep_below ? scale : 0.f;
            y[i] = x[i] * m[i];
        }
    }

    void backward(Runtime& rt) override {
        float* target = rt.input_grad(0);
        if (!target) return;
        const float* dy = output->grad.data();
        const size_t n = output->grad.size();
        if (!training_) {
            std::memcpy(target, dy, n * sizeof(float));
        } else {
            const float* m = mask_.data();
#pragma omp parallel for
            for (size_t i = 0; i < n; ++i) target[i] = dy[i] * m[i];
        }
    }

private:
    float p_;
    uint64_t salt_;
    bool training_ = true;
    Buffer mask_;
};

}  // namespace

std::unique_ptr<Op> make_dropout(float p, uint64_t salt) { return std::make_unique<Dropout>(p, salt); }

}  // namespace googlenet
