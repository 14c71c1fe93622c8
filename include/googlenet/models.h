// The Inception block and the networks built from it.
#pragma once
#include <string>

#include "googlenet/net.h"

namespace googlenet {

// Output channels of the four paths: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3/1 max-pool -> 1x1.
struct InceptionSpec {
    int c1;
    int c2_reduce, c2;
    int c3_reduce, c3;
    int c4;
    int out_channels() const { return c1 + c2 + c3 + c4; }
};

// Appends an Inception block reading x; parameters are named "<prefix>.p1_1.weight" and so on,
// as D2L's PyTorch Inception module names them.
ValueId inception(Net& net, ValueId x, const InceptionSpec& spec, const std::string& prefix);

// D2L's GoogLeNet (chapter "Multi-Branch Networks"): 5,977,530 parameters for 1 channel, 10 classes.
Net d2l_googlenet(int in_channels = 1, int classes = 10, int size = 96);

}  // namespace googlenet
