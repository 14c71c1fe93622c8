// Learning-rate schedules, as functions of training progress measured in epochs.
#pragma once
#include <string>

namespace googlenet {

struct LrSchedule {
    std::string kind = "constant";  // constant | step | cosine
    float base_lr = 0.1f;
    double step_epochs = 8;     // step: multiply by gamma every step_epochs epochs
    double gamma = 0.96;        // the paper's "decrease by 4% every 8 epochs"
    double total_epochs = 10;   // cosine: reaches 0 here
    double warmup_epochs = 0;   // linear warm-up over this many epochs (with any kind)
    int steps_per_epoch = 1;    // set by the trainer; warm-up grows by one step's share per step
};

// The rate for the step that starts `epoch_progress` epochs into training (2.5: halfway through
// epoch 3). During warm-up, step k (from 1) of the warm-up's n steps uses k/n of the scheduled rate.
float lr_at(const LrSchedule& s, double epoch_progress);

// Throws Error for an unknown kind or impossible numbers.
void validate(const LrSchedule& s);

}  // namespace googlenet
