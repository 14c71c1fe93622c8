// What a network holds, layer by layer, as D2L walks through it: as data, and as the text
// `googlenet summary` prints. Free functions over Net's public interface.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "googlenet/net.h"

namespace googlenet {

// One op that runs (after fusion): its output shape, parameters and multiply-adds.
struct LayerSummary {
    std::string label;  // as label(net, op)
    Shape output;       // for one image
    int64_t parameters = 0, macs = 0;  // multiply-adds per image
    bool auxiliary = false;            // part of an auxiliary classifier (training only)
    std::string block;                 // the block this op's output ends ("b1"), or empty
};
std::vector<LayerSummary> layers(const Net& net);
std::string summary(const Net& net);
// The op as summary() lists it: what it computes and its parameters' name ("conv+relu 3x3/1
// 96->128 (3.0.p2_2)").
std::string label(const Net& net, const Op& op);
// Multiply-adds of inference for one image: auxiliary classifiers left out.
int64_t macs_per_image(const Net& net);

}  // namespace googlenet
