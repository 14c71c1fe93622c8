// A planned network as the executors run it: its ops in order over its values, whose memory the
// plan placed, with the runtime its ops were prepared on. The Net (src/core) builds and plans
// it; the executors (executor.h) only run it.
#pragma once
#include <cstring>
#include <memory>
#include <vector>

#include "core/runtime.h"
#include "execution/backward_step.h"
#include "googlenet/graph.h"

namespace googlenet {

struct Program {
    std::vector<std::unique_ptr<Value>> values;  // values[0]: the input images
    std::vector<std::unique_ptr<Op>> nodes;      // one op per graph node, in the graph's order
    // The ops this plan runs, in the order forward runs them: of `nodes`, less what fusion made
    // part of another op (src/passes/fusion.h), which depends on training or evaluation.
    std::vector<Op*> ops;
    ValueId output = 0;                          // the logits
    std::vector<Graph::Auxiliary> auxiliaries;   // classifiers whose loss counts in training only
    std::vector<Value*> unconsumed;              // values no op reads: their gradient is zero
    Buffer activations, gradients;               // the arenas the memory plan placed the values in
    std::unique_ptr<Runtime> rt;                 // made at the first plan
    BackwardStep backward_step;

    Value& value(ValueId id) { return *values[size_t(id)]; }
    void set_input(const float* images) {  // batch x C x H x W, into values[0]
        std::memcpy(values[0]->data.data(), images, values[0]->shape.numel() * sizeof(float));
    }
    const Value& value(ValueId id) const { return *values[size_t(id)]; }
};

}  // namespace googlenet
