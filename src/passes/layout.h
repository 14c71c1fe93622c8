// The layout pass: each value's memory layout for a batch.
#pragma once
#include <vector>

#include "googlenet/graph.h"
#include "googlenet/options.h"
#include "passes/fusion.h"

namespace googlenet {

// The input image stays as the user gives it (NCHW); everything else takes `canonical`, except
// 1x1 maps whose channels do not fill whole blocks of `channel_block` (the linear layer reads a
// 1x1 map as an N x C matrix, which a blocked or NHWC layout is only when no channel is padding),
// and around a concatenation whose channel ranges do not fall on block boundaries (it addresses
// channel ranges of its output). A ReLU, batch norm, dropout or LRN has the same layout at both
// ends. One layout per value id.
std::vector<Layout> choose_layouts(const Graph& g, const std::vector<FusedOp>& ops, Layout canonical, int channel_block);

}  // namespace googlenet
