// Initialisation and the SGD optimizer, both as PyTorch defines them.
#pragma once
#include <cstdint>

#include "googlenet/params.h"

namespace googlenet {

// Conv and linear weights: Xavier-uniform, U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).
// Biases: PyTorch's default, U(-b, b) with b = 1 / sqrt(fan_in). Same seed, same numbers.
void init_params(ParamStore& params, uint64_t seed);

struct SgdOptions {
    float lr = 0.1f;
    float momentum = 0.f;
    float weight_decay = 0.f;
    bool nesterov = false;
};

// torch.optim.SGD: g += wd * p; buf = momentum * buf + g (buf = g on the first step);
// g = nesterov ? g + momentum * buf : buf; p -= lr * g.
class Sgd {
public:
    Sgd(ParamStore& params, SgdOptions options);
    void step();
    const SgdOptions& options() const { return options_; }
    void set_lr(float lr) { options_.lr = lr; }
    // State a checkpoint must keep for a resumed run to match an uninterrupted one.
    Buffer& momentum_buffer() { return momentum_; }
    bool started() const { return !first_step_; }
    void set_started(bool started) { first_step_ = !started; }

private:
    ParamStore& params_;
    SgdOptions options_;
    Buffer momentum_;
    bool first_step_ = true;
};

}  // namespace googlenet
