#include "googlenet/schedule.h"

#include <cmath>

#include "googlenet/tensor.h"

namespace googlenet {

void validate(const LrSchedule& s) {
    if (s.kind != "constant" && s.kind != "step" && s.kind != "cosine")
        throw Error("--lr-schedule must be constant, step or cosine, not '" + s.kind + "'");
    if (!(s.base_lr > 0)) throw Error("--lr must be a positive number");
    if (s.kind == "step" && !(s.step_epochs > 0)) throw Error("--lr-step-epochs must be positive");
    if (s.kind == "step" && !(s.gamma > 0)) throw Error("--lr-gamma must be positive");
    if (s.warmup_epochs < 0) throw Error("--warmup-epochs must not be negative");
}

float lr_at(const LrSchedule& s, double e) {
    double lr = s.base_lr;
    if (s.kind == "step") {
        lr *= std::pow(s.gamma, std::floor(e / s.step_epochs));
    } else if (s.kind == "cosine") {
        const double t = std::min(1.0, e / s.total_epochs);
        lr *= 0.5 * (1.0 + std::cos(M_PI * t));
    }
    if (s.warmup_epochs > 0) lr *= std::min(1.0, (e + 1.0 / s.steps_per_epoch) / s.warmup_epochs);
    return float(lr);
}

}  // namespace googlenet
