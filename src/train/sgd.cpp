#include <algorithm>
#include <cmath>
#include <random>

#include "googlenet/train.h"

namespace googlenet {

void init_params(ParamStore& params, uint64_t seed) {
    if (!params.allocated()) params.allocate();
    std::mt19937_64 rng(seed);
    for (int i = 0; i < int(params.list().size()); ++i) {
        const Param& p = params.param(i);
        if (p.constant_init) {
            std::fill(params.value(i), params.value(i) + p.size, p.init_value);
            continue;
        }
        const double bound = p.is_bias ? 1.0 / std::sqrt(double(p.fan_in))
                                       : std::sqrt(6.0 / double(p.fan_in + p.fan_out));
        float* v = params.value(i);
        for (size_t j = 0; j < p.size; ++j) {
            const double u = double(rng() >> 11) * 0x1.0p-53;  // uniform in [0, 1)
            v[j] = float((2 * u - 1) * bound);
        }
    }
}

Sgd::Sgd(ParamStore& params, SgdOptions options) : params_(params), options_(options) {
    if (!params_.allocated()) params_.allocate();
    if (options_.momentum != 0.f) momentum_.resize(params_.total());
}

void Sgd::step() {
    float* p = params_.values().data();
    const float* g = params_.grads().data();
    float* buf = momentum_.data();
    const long n = long(params_.total());
    const float lr = options_.lr, wd = options_.weight_decay, mu = options_.momentum;
    const bool nesterov = options_.nesterov, first = first_step_;
#pragma omp parallel for simd
    for (long i = 0; i < n; ++i) {
        float d = g[i] + wd * p[i];
        if (mu != 0.f) {
            buf[i] = first ? d : mu * buf[i] + d;
            d = nesterov ? d + mu * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
    first_step_ = false;
}

}  // namespace googlenet
