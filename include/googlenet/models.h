// The Inception block and the networks built from it.
#pragma once
#include <string>
#include <vector>

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
ValueId inception(Graph& g, ValueId x, const InceptionSpec& spec, const std::string& prefix);

// torchvision's BasicConv2d: a convolution without bias, batch norm (eps), ReLU; parameters
// "<prefix>.conv.weight" and "<prefix>.bn.*".
ValueId conv_bn_relu(Graph& g, ValueId x, ConvSpec spec, float eps, const std::string& prefix);

// torchvision's Inception block: every conv a BasicConv2d, a 3x3 (not 5x5) conv in path 3, a
// ceil-mode pool in path 4; parameters "<prefix>.branch1.conv.weight", "<prefix>.branch2.0.bn.weight", ...
ValueId inception_bn(Graph& g, ValueId x, const InceptionSpec& spec, float eps, const std::string& prefix);

// D2L's GoogLeNet (chapter "Multi-Branch Networks"): 5,977,530 parameters for 1 channel, 10 classes.
// The same network as models/d2l.json, written out in C++ (the tests hold the two equal).
Net d2l_googlenet(int in_channels = 1, int classes = 10, int size = 96);

// A network described by a model file (docs/models.md): JSON giving the input, the classes and a
// body laid out as PyTorch's nn.Sequential holds it, so each parameter's name follows from its
// position ("2.0.p1_1.weight": body item 2, layer 0, path 1's first conv).
// The model file format's version: a file may say "format_version" (one without it is version 1,
// as googlenet 0.2 wrote them); a file of a later version is refused.
inline constexpr int kModelFormatVersion = 1;

struct ModelSpec {
    std::string name;         // the file's "name"
    std::string source;       // "built-in model d2l" or the path it was read from
    std::string text;         // the JSON itself: checkpoints keep it to rebuild the same network
    std::string description;
    int in_channels = 1, input_size = 96, classes = 10;
};

// NAME (a built-in model, see builtin_models()) or PATH (a JSON file). The whole network is built
// once to check it; errors name the file and the key at fault (body[3].layers[0].inception), or the
// line and column of a JSON syntax error.
ModelSpec load_model(const std::string& name_or_path);
ModelSpec parse_model(const std::string& text, const std::string& source);
std::vector<std::string> builtin_models();  // models/*.json, compiled in

// The model of a weights file: the one kept in its metadata (save_weights), or `model` (a name or
// path, as load_model) when given; with both, they must describe the same network (names and
// descriptions aside), else an error names both. A file without a model (PyTorch's, googlenet
// 0.1's) takes `model`, or "d2l" when it is empty.
ModelSpec model_for_weights(const std::string& weights, const std::string& model);

// The network for size x size inputs (0: the model's own input size).
Graph build_graph(const ModelSpec& spec, int size = 0);
Net build_net(const ModelSpec& spec, int size = 0);  // Net(build_graph(spec, size))

// Loads a weights file into `net` (every tensor, exact shapes, nothing extra). A file without any
// of the auxiliary classifiers' tensors loads too, the heads keeping their values: torchvision's
// ImageNet weights come that way.
void load_weights(const std::string& path, Net& net);

}  // namespace googlenet
