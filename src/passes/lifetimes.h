// When each value's data and gradient are alive, from what the ops read and write: the input of
// the memory plan (memory_plan.h). It knows values by id and ops by what they touch, nothing more
// (as tinygrad's and ggml-alloc's planners), so it is tested on made-up ops (tests/test_passes.cpp).
#pragma once
#include <utility>
#include <vector>

#include "googlenet/graph.h"
#include "passes/memory_plan.h"

namespace googlenet {

// What one op touches. Forward runs op i at `time` (its index; with paths side by side, its
// stage, which never exceeds its index) and backward runs it at step 2S - 1 - i (S ops).
struct OpUse {
    ValueId output;
    std::vector<ValueId> inputs;
    std::vector<ValueId> saved;  // read by its backward
    int time;
};

// A value to place, and its size in floats.
using Planned = std::pair<ValueId, size_t>;

// Activations: a value is alive from the step that writes it (the image: before step 0) to its
// last reader: the last op that reads it forward, or the last backward step of an op that saves
// it. Values in `read_at_end` (the logits, which the loss and the caller read) and values nothing
// reads live to the end. One lifetime per entry of `planned`, in its order.
std::vector<Lifetime> activation_lifetimes(const std::vector<OpUse>& ops, const std::vector<Planned>& planned,
                                           const std::vector<ValueId>& read_at_end);

// Gradients: backward runs the ops in reverse, and a value's gradient is alive from the first
// backward step that writes it (its last reader's) to the step that last reads it (its
// producer's). Values in `written_by_loss` (the logits) are written before backward; values no
// op reads are zeroed before backward and listed in `unconsumed` (indices into `planned`).
std::vector<Lifetime> gradient_lifetimes(const std::vector<OpUse>& ops, const std::vector<Planned>& planned,
                                         const std::vector<ValueId>& written_by_loss, std::vector<size_t>& unconsumed);

}  // namespace googlenet
