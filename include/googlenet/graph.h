// A network as plain data: values (a shape per image), nodes (what each op computes, from which
// values) and the names of its parameters. Building a graph checks each layer's shapes with the
// rules of shape_rules.h; a Net (net.h) is made from a graph, and the batch split's copies are
// made from the same graph, copied. The graph knows no ops, no batch size and no memory.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "googlenet/tensor.h"

namespace googlenet {

using ValueId = int;

// What an op computes, in terms that name it outside this engine: the graph's nodes, the ops'
// descriptions and exporters (ONNX) read it.
struct OpAttributes {
    enum Kind { conv, relu, max_pool, avg_pool, adaptive_avg_pool, batch_norm, lrn, dropout, concat, linear, normalize };
    OpAttributes(Kind k) : kind(k) {}  // NOLINT: implicit, so an op can return {OpAttributes::relu}
    Kind kind;
    int kernel_h = 0, kernel_w = 0, stride = 1, pad = 0;  // conv and pools
    bool ceil_mode = false;                                // max pool
    int out_channels = 0;                                  // conv; linear: output features
    bool bias = true;                                      // conv
    bool fused_relu = false;                               // conv, batch norm: ReLU applied to its output (after fusion)
    bool folded_norm = false;                              // conv: a batch norm folded into it (evaluation)
    int out_h = 0, out_w = 0;                              // adaptive pool
    int size = 0;                                          // lrn
    float alpha = 0, beta = 0, k = 0;                      // lrn
    float eps = 0, momentum = 0;                           // batch norm
    float p = 0;                                           // dropout
    std::vector<float> mean, stddev;                       // normalize, per channel
};

// "conv 7x7/2 1->64", "max-pool 3x3/2 ceil": for summaries and errors. `in` is the first input's
// shape, `inputs` the number of inputs (a concatenation's).
std::string describe(const OpAttributes& op, const Shape& in, size_t inputs);
// The output shape of one image, with the first input's shape `in` (a concatenation's from all).
// Zero or negative sizes where the input is too small.
Shape output_shape(const OpAttributes& op, const std::vector<Shape>& in);

// Who applies a fused ReLU's backward, dy * (y > 0), to its output's gradient: set by the fusion
// passes (src/passes/fusion.h) on the ops that run.
enum class ReluMask { none, own, handed_on };

// A value's element type: float, bfloat16 (Options::precision bf16), or an int8 plan's codes:
// unsigned (u8, for values that are never negative) or signed (s8); an op's arithmetic
// (Op::compute) is s8 for an int8 convolution, whose weights are s8.
enum class DataType { f32, bf16, u8, s8 };

struct ConvSpec {
    int out_channels, kernel, stride = 1, pad = 0;
    bool bias = true;  // false before a batch norm, as torchvision's BasicConv2d
};

// One op of the graph: it reads `inputs` and writes the value numbered one past its own index
// (value 0 is the input image).
struct Node {
    OpAttributes op;
    std::vector<ValueId> inputs;
    std::string param_name = {};  // conv, linear, batch norm: "<name>.weight", ...
    bool auxiliary = false;  // part of an auxiliary classifier: runs in training only
};

class Graph {
public:
    Graph(int channels, int height, int width);

    // Builders, in topological order. Parameter names follow the PyTorch state_dict of the same
    // network ("0.0" gives "0.0.weight" and "0.0.bias").
    ValueId input() const { return 0; }
    ValueId conv(ValueId x, ConvSpec spec, const std::string& param_name);
    ValueId relu(ValueId x);
    // ceil_mode as PyTorch's: the output size rounds up, and a last window that starts inside
    // the input or its left padding counts.
    ValueId max_pool(ValueId x, int kernel, int stride, int pad, bool ceil_mode = false);
    // Batch normalisation, as PyTorch's BatchNorm2d: batch statistics in training (and running
    // averages updated with `momentum`), the running averages in evaluation. Parameters
    // "<name>.weight", "<name>.bias"; buffers "<name>.running_mean", "<name>.running_var",
    // "<name>.num_batches_tracked".
    ValueId batch_norm(ValueId x, float eps, float momentum, const std::string& param_name);
    // Local response normalisation across `size` channels (odd), as PyTorch's LocalResponseNorm.
    ValueId lrn(ValueId x, int size, float alpha, float beta, float k);
    // Inverted dropout in training, the identity in evaluation.
    ValueId dropout(ValueId x, float p);
    // (x - mean[c]) / stddev[c] per channel, with constants: mean subtraction on the input.
    ValueId normalize(ValueId x, std::vector<float> mean, std::vector<float> stddev);
    ValueId avg_pool(ValueId x, int kernel, int stride, int pad);  // padding counts, as PyTorch's default
    ValueId global_avg_pool(ValueId x);
    // PyTorch's AdaptiveAvgPool2d((out_h, out_w)): uneven, possibly overlapping windows.
    ValueId adaptive_avg_pool(ValueId x, int out_h, int out_w);
    ValueId concat(const std::vector<ValueId>& xs);
    ValueId linear(ValueId x, int out_features, const std::string& param_name);  // flattens x
    void set_output(ValueId x);
    // The nodes added since node `first` form an auxiliary classifier ending in `logits` (the
    // paper's heads after 4a and 4d): in training its loss, times `weight`, joins the main loss
    // and its gradient flows back into the network; in evaluation it does not run.
    void add_auxiliary(size_t first, ValueId logits, float weight);
    // Names a value that ends a block ("b1", "2.0 inception"), for summaries.
    void name_block(ValueId x, const std::string& name);

    struct Auxiliary {
        ValueId logits;
        float weight;
    };
    const std::vector<Node>& nodes() const { return nodes_; }
    const Shape& shape(ValueId x) const { return shapes_.at(size_t(x)); }  // of one image
    int value_count() const { return int(shapes_.size()); }
    ValueId output() const { return output_; }
    const std::vector<Auxiliary>& auxiliaries() const { return auxiliaries_; }
    const std::vector<std::pair<ValueId, std::string>>& block_names() const { return block_names_; }

private:
    ValueId add(Node node);
    void check(ValueId x) const;

    std::vector<Shape> shapes_;  // per value, n = 1
    std::vector<Node> nodes_;
    ValueId output_ = 0;
    std::vector<Auxiliary> auxiliaries_;
    std::vector<std::pair<ValueId, std::string>> block_names_;
};

}  // namespace googlenet
