#include "core/runtime.h"

namespace googlenet {

float* Runtime::grad_target(Value& v) {
    return v.grad_written ? scratch_.data() : v.grad.data();
}

void Runtime::grad_commit(Value& v, const float* written) {
    if (written != v.grad.data()) {
        float* g = v.grad.data();
        const long n = long(v.shape.numel());
#pragma omp parallel for simd
        for (long i = 0; i < n; ++i) g[i] += written[i];
    }
    v.grad_written = true;
}

}  // namespace googlenet
