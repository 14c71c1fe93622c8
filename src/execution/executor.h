// One way to run a planned batch: forward, the loss, backward, and the profile of what ran. The
// Net plans the batch and picks one of three:
//  - SequentialExecutor (sequential.h): the ops in order, each on all threads;
//  - PathsExecutor (paths.h): evaluation of small batches with the Inception paths side by side;
//  - BatchSplit (src/core/batch_split.h): one copy of the network per thread, each on its share.
// Every one runs an op's backward through BackwardStep, so the ReLU masks and the gradient-sum
// rule hold alike in all.
#pragma once
#include <functional>
#include <vector>

#include "googlenet/execution.h"

namespace googlenet {

class Op;
using AfterOp = std::function<void(const Op&)>;

class Executor {
public:
    virtual ~Executor() = default;
    // images: batch x C x H x W; returns the logits.
    virtual const float* forward(const float* images) = 0;
    // Mean softmax cross-entropy of the last forward's logits; also sets the logits' gradient.
    // In training, plus each auxiliary classifier's, times its weight.
    virtual float loss(const int* labels) = 0;
    // From the logits' gradient that loss() set, or from `dlogits` where not null. Calls
    // `after_op` (if set) once an op's parameters' gradients are final.
    virtual void backward(const float* dlogits, const AfterOp& after_op) = 0;
    // Profiling starts from zero at set_profiling(true).
    virtual void set_profiling(bool on) = 0;
    virtual std::vector<OpTime> op_times() const = 0;
    // Adds its arenas to e and says how it runs.
    virtual void describe(Execution& e) const = 0;
};

}  // namespace googlenet
