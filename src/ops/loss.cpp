// Softmax cross-entropy, mean over the batch. Ten classes per image is too small for a
// oneDNN primitive to pay for itself, and fusing softmax with the loss keeps it stable.
#include <cmath>
#include <string>

#include "ops/ops.h"

namespace googlenet {

float softmax_cross_entropy(const float* logits, const int* labels, int n, int k, float* dlogits) {
    double total = 0;
    for (int b = 0; b < n; ++b) {
        const int y = labels[b];
        if (y < 0 || y >= k)
            throw Error("label " + std::to_string(y) + " of image " + std::to_string(b) +
                        " is outside [0, " + std::to_string(k) + ")");
        const float* z = logits + size_t(b) * k;
        float m = z[0];
        for (int j = 1; j < k; ++j) m = std::fmax(m, z[j]);
        double sum = 0;
        for (int j = 0; j < k; ++j) sum += std::exp(double(z[j]) - m);
        const double log_sum = std::log(sum) + m;
        total += log_sum - z[y];
        if (dlogits) {
            float* d = dlogits + size_t(b) * k;
            for (int j = 0; j < k; ++j)
                d[j] = float((std::exp(double(z[j]) - log_sum) - (j == y ? 1.0 : 0.0)) / n);
        }
    }
    return float(total / n);
}

}  // namespace googlenet
