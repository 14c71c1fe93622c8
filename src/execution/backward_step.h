// One op's backward as every executor runs it, with the two rules that hold for every op applied
// here once rather than in each op (llm.c keeps its one accumulation rule in one place too):
//  - ReLU masks: an op that owns its output's mask (Op::relu_mask) gets dy *= (y > 0) applied to
//    its output's gradient first, unless it applies the mask within its own pass
//    (Op::applies_relu_mask).
//  - Gradient accumulation: the first op to run backward among a value's readers writes the
//    value's gradient over whatever was there (so no zeroing pass is needed); each later one
//    writes into a buffer of its own, which is then added in. An op only writes the gradients
//    it is handed (Runtime::input_grad), and never knows how many readers its inputs have.
#pragma once
#include <memory>
#include <vector>

#include "core/runtime.h"
#include "execution/relu_mask.h"

namespace googlenet {

class BackwardStep {
public:
    // Once per batch size, after the ops are prepared (their layouts are then fixed).
    void prepare(const std::vector<Op*>& ops, Runtime& rt);
    // Op `index` of those prepared. Before the first op of a backward pass, every value's
    // grad_written must be false, except those whose gradient the loss wrote.
    void run(size_t index, Op& op, Runtime& rt);

private:
    static void add(Value& v, const float* later);  // v.grad += later, in v's type

    std::vector<std::unique_ptr<ReluMaskBackward>> masks_;  // per op; null where the op applies none
    std::vector<Buffer> later_;  // per input position: a later reader's gradient, before it is added
};

}  // namespace googlenet
