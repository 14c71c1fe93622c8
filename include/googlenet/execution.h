// How a Net runs its current batch (Net::execution) and what its profile measured
// (Net::op_times): the figures the executors (src/execution/executor.h) report.
#pragma once
#include <cstddef>

namespace googlenet {

class Op;

struct Execution {
    bool batch_split = false;         // one copy of the network per thread
    bool paths_side_by_side = false;  // evaluation: the Inception paths on different threads
    int gradient_copies = 1;          // of the parameters' gradients
    size_t activation_floats = 0, gradient_floats = 0;  // the arenas, summed over the copies
};

// One op's wall time, summed over the passes since profiling began. Its backward is split into
// backward-weights (its parameters' gradients) and backward-data (the rest: its input's
// gradient, and the ReLU mask).
struct OpTime {
    const Op* op = nullptr;
    double forward_ms = 0, backward_data_ms = 0, backward_weights_ms = 0;
};

}  // namespace googlenet
