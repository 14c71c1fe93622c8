// ONNX (https://onnx.ai) in and out, read and written with ONNX's own protobuf schema.
#pragma once
#include <string>
#include <vector>

#include "googlenet/io.h"
#include "googlenet/models.h"

namespace googlenet {

// Writes `net` as an ONNX model (opset 13, the batch dimension dynamic, the spatial size the one
// the net was built for) for inference: the auxiliary classifiers are left out and dropout, the
// identity in inference, leaves no node. Initializers carry the weights' state_dict names. The
// net's weights must be loaded. `description` becomes the model's doc string. The net must not be
// planned for evaluation with batch norms folded (Options::fold_batch_norm): an Error says so.
void export_onnx(const Net& net, const std::string& description, const std::string& path);

// A GoogLeNet-family ONNX graph as a model file and its weights. Supported: Conv, Relu, MaxPool,
// AveragePool, GlobalAveragePool, LRN, BatchNormalization, Concat (on channels, of parallel
// paths from one tensor), Dropout and Identity (dropped), Flatten and Reshape to [N, -1],
// Gemm and MatMul (+ Add), a trailing Softmax (dropped: the model gives logits, and predict
// applies softmax itself), and a per-channel Sub/Add/Mul/Div by constants on the input (mean
// subtraction). Anything else gets an error naming the node and its op.
struct ImportedModel {
    std::string model_text;  // a model file (docs/models.md)
    ModelSpec spec;          // the same, read back
    Net net{Graph(1, 1, 1)};  // the network it describes, built for its input size, with the graph's weights
    std::vector<std::string> notes;  // what was dropped or changed, for the user
};
// `name`: the model file's name; `size`: the input size where the graph's is not fixed. The result
// is checked: its model file lays out a network and the weights fill it exactly.
ImportedModel import_onnx(const std::string& path, const std::string& name, int size = 0);

}  // namespace googlenet
