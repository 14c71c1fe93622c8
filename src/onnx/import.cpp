// An ONNX graph as a model file: walks from the input to the output, one layer per node, and
// turns each tensor that feeds several nodes which meet again in one Concat into a "branches"
// layer (an Inception block, written out path by path).
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "googlenet/onnx.h"
#include "googlenet/shape_rules.h"

namespace googlenet {
namespace {

using json = nlohmann::ordered_json;  // keys in the order written: "conv" before "name"
using Node = onnx::NodeProto;

// ONNX strings need not be UTF-8; JSON's must be: anything else becomes U+FFFD.
std::string text_of(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

struct MapShape {
    int64_t c, h, w;
};

class Importer {
public:
    Importer(std::string path, int size) : path_(std::move(path)), size_(size) {}
    ImportedModel run(const std::string& name);

private:
    Error error(const Node& n, const std::string& what) const {
        return Error(fmt::format("{}: node '{}' ({}): {}", path_, n.name(), n.op_type(), what));
    }
    Error error(const std::string& what) const { return Error(path_ + ": " + what); }

    // Attributes, with ONNX's defaults.
    const onnx::AttributeProto* attribute(const Node& n, const char* name) const {
        for (const auto& a : n.attribute())
            if (a.name() == name) return &a;
        return nullptr;
    }
    int64_t int_attr(const Node& n, const char* name, int64_t fallback) const {
        const auto* a = attribute(n, name);
        return a ? a->i() : fallback;
    }
    float float_attr(const Node& n, const char* name, float fallback) const {
        const auto* a = attribute(n, name);
        return a ? a->f() : fallback;
    }
    std::vector<int64_t> ints_attr(const Node& n, const char* name, std::vector<int64_t> fallback) const {
        const auto* a = attribute(n, name);
        return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : fallback;
    }

    bool is_constant(const std::string& t) const { return constants_.count(t) > 0; }
    const onnx::TensorProto& constant(const Node& n, int input) const {
        if (input >= n.input_size() || !is_constant(n.input(input)))
            throw error(n, fmt::format("input {} must be a constant (an initializer)", input));
        return *constants_.at(n.input(input));
    }
    std::vector<int64_t> dims(const onnx::TensorProto& t) const;
    // A constant input's values, from raw_data or the tensor's typed field.
    template <class T, class Typed>
    std::vector<T> values(const Node& n, int input, int type, const char* type_name, Typed typed) const;
    std::vector<float> floats(const Node& n, int input) const;
    std::vector<int64_t> int64s(const Node& n, int input) const;

    // The pieces of a window (kernel, strides, pads): square kernels, one stride, no dilation.
    struct Window {
        int64_t kernel, stride, begin, end;  // pads at the start and the end of each axis
    };
    Window window(const Node& n) const;
    std::string param_name(const Node& n, int weight_input);

    // Converts nodes from tensor `v` on, appending layers, until the output or a Concat that
    // joins parallel paths (returned in `join`); returns the last tensor converted.
    std::string chain(std::string v, json& layers, MapShape& s, const Node** join);
    std::string branches(const std::string& v, json& layers, MapShape& s);
    std::string convert(const Node& n, json& layers, MapShape& s);
    std::string pool(const Node& n, json& layers, MapShape& s);
    std::string linear(const Node& n, json& layers, MapShape& s);
    std::string normalize(const Node& n, json& layers, MapShape& s);

    std::string path_;
    int size_;
    onnx::ModelProto model_;
    std::map<std::string, const onnx::TensorProto*> constants_;
    std::map<std::string, std::vector<const Node*>> consumers_;
    std::set<const Node*> converted_;
    std::set<std::string> names_;
    std::string output_;
    ImportedModel result_;
    TensorMap weights_;  // named as the model file's layers name them
    int64_t classes_ = 0;
};

std::vector<int64_t> Importer::dims(const onnx::TensorProto& t) const {
    std::vector<int64_t> d(t.dims().begin(), t.dims().end());
    int64_t count = 1;
    for (int64_t x : d) {
        if (x < 0 || x > (int64_t(1) << 31) || (count *= std::max<int64_t>(x, 1)) > (int64_t(1) << 31))
            throw error(fmt::format("tensor '{}' has impossible dimensions [{}]", t.name(), fmt::join(d, ", ")));
    }
    if (t.data_location() == onnx::TensorProto::EXTERNAL)
        throw error(fmt::format("tensor '{}' keeps its data in an external file, which is not supported", t.name()));
    return d;
}

template <class T, class Typed>
std::vector<T> Importer::values(const Node& n, int input, int type, const char* type_name, Typed typed) const {
    const onnx::TensorProto& t = constant(n, input);
    size_t count = 1;
    for (int64_t d : dims(t)) count *= size_t(d);
    if (t.data_type() != type)
        throw error(n, fmt::format("tensor '{}' is of ONNX type {}, not {}", t.name(), t.data_type(), type_name));
    std::vector<T> v(count);
    const auto& field = typed(t);
    if (!t.raw_data().empty()) {
        if (t.raw_data().size() != count * sizeof(T))
            throw error(n, fmt::format("tensor '{}' holds {} bytes for {} {}s", t.name(), t.raw_data().size(), count, type_name));
        std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());  // little-endian, as this machine
    } else {
        if (size_t(field.size()) != count)
            throw error(n, fmt::format("tensor '{}' holds {} {}s, its dimensions say {}", t.name(), field.size(), type_name, count));
        std::copy(field.begin(), field.end(), v.begin());
    }
    return v;
}

std::vector<float> Importer::floats(const Node& n, int input) const {
    return values<float>(n, input, onnx::TensorProto::FLOAT, "float", [](const onnx::TensorProto& t) -> const auto& { return t.float_data(); });
}

std::vector<int64_t> Importer::int64s(const Node& n, int input) const {
    return values<int64_t>(n, input, onnx::TensorProto::INT64, "int64", [](const onnx::TensorProto& t) -> const auto& { return t.int64_data(); });
}

Importer::Window Importer::window(const Node& n) const {
    const auto kernel = ints_attr(n, "kernel_shape", {});
    const auto strides = ints_attr(n, "strides", {1, 1});
    const auto pads = ints_attr(n, "pads", {0, 0, 0, 0});
    const auto dilations = ints_attr(n, "dilations", {1, 1});
    const auto* auto_pad = attribute(n, "auto_pad");
    if (auto_pad && auto_pad->s() != "NOTSET" && auto_pad->s() != "VALID")
        throw error(n, "auto_pad " + auto_pad->s() + " is not supported (give explicit pads)");
    if (kernel.size() != 2 || kernel[0] != kernel[1] || kernel[0] < 1)
        throw error(n, fmt::format("kernel [{}]: only square 2-D kernels are supported", fmt::join(kernel, ", ")));
    if (strides.size() != 2 || strides[0] != strides[1] || strides[0] < 1)
        throw error(n, fmt::format("strides [{}]: only equal strides are supported", fmt::join(strides, ", ")));
    if (dilations != std::vector<int64_t>{1, 1}) throw error(n, "dilated windows are not supported");
    if (pads.size() != 4 || pads[0] != pads[1] || pads[2] != pads[3] || pads[0] < 0 || pads[2] < pads[0])
        throw error(n, fmt::format("pads [{}]: only the same padding on both axes is supported", fmt::join(pads, ", ")));
    for (int64_t x : {kernel[0], strides[0], pads[2]})
        if (x > 65536) throw error(n, "a window larger than 65536");
    return {kernel[0], strides[0], pads[0], pads[2]};
}

// A layer's parameter prefix: the state_dict prefix the weights carry ("conv1.conv" from
// "conv1.conv.weight", as PyTorch exports them), else the node's name, made unique.
std::string Importer::param_name(const Node& n, int weight_input) {
    std::string name = n.input(weight_input);
    const std::string suffix = ".weight";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        name.resize(name.size() - suffix.size());
    else
        name = n.name().empty() ? fmt::format("layer{}", names_.size()) : n.name();
    // Names go into JSON and safetensors headers: printable ASCII only.
    for (char& c : name)
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') c = '_';
    std::string unique = name;
    for (int i = 2; names_.count(unique); ++i) unique = fmt::format("{}_{}", name, i);
    names_.insert(unique);
    return unique;
}

std::string Importer::pool(const Node& n, json& layers, MapShape& s) {
    const Window w = window(n);
    const bool max = n.op_type() == "MaxPool", ceil_mode = int_attr(n, "ceil_mode", 0) != 0;
    auto size = [&](int64_t in, int64_t begin, int64_t end, bool up) {
        const int64_t out = window_positions(in, w.kernel, w.stride, begin, end, up);
        if (out == 0) throw error(n, fmt::format("a {}x{} window on a {}x{} map", w.kernel, w.kernel, in, in));
        return out;
    };
    const int64_t want = size(s.h, w.begin, w.end, ceil_mode);
    json pool{{"kernel", w.kernel}, {"stride", w.stride}, {"pad", w.begin}};
    // Symmetric padding rounding down is this engine's pool as it is. Caffe's rounding up, written
    // as extra padding at the end (the model zoo's pools), is ceil mode for a max: the same
    // windows, and padding never wins a max. An average rounding up is taken only where that
    // changes nothing.
    const bool symmetric = w.end == w.begin;
    const bool as_is = symmetric && (!ceil_mode || (!max && size(s.h, w.begin, w.begin, false) == want));
    if (!as_is) {
        if (!max || size(s.h, w.begin, w.begin, true) != want)
            throw error(n, fmt::format("pads [{0}, {0}, {1}, {1}] with ceil_mode {2} on a {3}x{3} map have no equivalent here",
                                       w.begin, w.end, int(ceil_mode), s.h));
        pool["ceil"] = true;
    }
    if (!max && w.begin > 0 && int_attr(n, "count_include_pad", 0) == 0)
        throw error(n, "averages that leave the padding out of the count are not supported (count_include_pad 0)");
    if (2 * w.begin > w.kernel) throw error(n, "padding larger than half the kernel");
    layers.push_back({{max ? "max_pool" : "avg_pool", pool}});
    s.h = s.w = want;
    return n.output(0);
}

std::string Importer::linear(const Node& n, json& layers, MapShape& s) {
    const int64_t in = s.c * s.h * s.w;
    const onnx::TensorProto& wt = constant(n, 1);
    const std::vector<int64_t> wd = dims(wt);
    std::vector<float> w = floats(n, 1), bias;
    const bool gemm = n.op_type() == "Gemm";
    const bool trans_b = gemm && int_attr(n, "transB", 0) != 0;
    if (gemm && int_attr(n, "transA", 0) != 0) throw error(n, "transA is not supported");
    if (wd.size() != 2 || wd[trans_b ? 1 : 0] != in)
        throw error(n, fmt::format("weights [{}] do not take the {} features that reach this node", fmt::join(wd, ", "), in));
    const int64_t out = wd[trans_b ? 0 : 1];
    if (!trans_b) {  // [in, out] as MatMul and Gemm without transB keep it: make it [out, in]
        std::vector<float> t(w.size());
        for (int64_t i = 0; i < in; ++i)
            for (int64_t o = 0; o < out; ++o) t[size_t(o * in + i)] = w[size_t(i * out + o)];
        w.swap(t);
    }
    std::string result = n.output(0);
    if (gemm && n.input_size() > 2 && !n.input(2).empty()) {
        bias = floats(n, 2);
        const float alpha = float_attr(n, "alpha", 1.f), beta = float_attr(n, "beta", 1.f);
        for (float& x : w) x *= alpha;
        for (float& x : bias) x *= beta;
    } else if (!gemm) {  // MatMul, and its bias as the Add that follows it, if any
        const auto& next = consumers_[result];
        if (next.size() == 1 && next[0]->op_type() == "Add" && next[0]->input_size() == 2) {
            const Node& add = *next[0];
            const int c = add.input(0) == result ? 1 : 0;
            if (is_constant(add.input(c))) {
                bias = floats(add, c);
                converted_.insert(&add);
                result = add.output(0);
            }
        }
    }
    if (bias.size() == 1) bias.assign(size_t(out), bias[0]);
    if (bias.empty()) bias.assign(size_t(out), 0.f);
    if (int64_t(bias.size()) != out) throw error(n, fmt::format("a bias of {} values for {} outputs", bias.size(), out));
    const std::string name = param_name(n, 1);
    weights_[name + ".weight"] = LoadedTensor{{out, in}, std::move(w)};
    weights_[name + ".bias"] = LoadedTensor{{out}, std::move(bias)};
    layers.push_back({{"linear", {{"out", out}}}, {"name", name}});
    s = {out, 1, 1};
    classes_ = out;
    return result;
}

// Sub, Add, Mul or Div of the map by a constant per channel (or one for all): mean subtraction
// and scaling, gathered into one normalize layer (x - mean) / std.
std::string Importer::normalize(const Node& n, json& layers, MapShape& s) {
    const bool commutes = n.op_type() == "Add" || n.op_type() == "Mul";
    int c = 1;
    if (n.input_size() != 2) throw error(n, "expected two inputs");
    if (!is_constant(n.input(1))) {
        if (!is_constant(n.input(0)))
            throw error(n, "arithmetic on two computed tensors (a residual connection, say) is not supported, only with a constant");
        if (!commutes) throw error(n, "a constant minus or over the map is not supported, only the map minus or over a constant");
        c = 0;
    }
    const std::vector<int64_t> d = dims(constant(n, c));
    std::vector<float> v = floats(n, c);
    const bool per_channel = v.size() == size_t(s.c) && (d.size() == 4 ? d[0] == 1 && d[2] == 1 && d[3] == 1
                                                                          : d.size() == 3 && d[1] == 1 && d[2] == 1);
    if (v.size() == 1) v.assign(size_t(s.c), v[0]);
    else if (!per_channel)
        throw error(n, fmt::format("a constant of shape [{}]: only one value per channel ([1, {}, 1, 1]) is supported",
                                   fmt::join(d, ", "), s.c));
    std::vector<float> mean(size_t(s.c), 0.f), stddev(size_t(s.c), 1.f);
    for (size_t i = 0; i < v.size(); ++i) {
        if (n.op_type() == "Sub") mean[i] = v[i];
        if (n.op_type() == "Add") mean[i] = -v[i];
        if (n.op_type() == "Mul") stddev[i] = 1.f / v[i];
        if (n.op_type() == "Div") stddev[i] = v[i];
        if (!std::isfinite(mean[i]) || !std::isfinite(stddev[i]) || stddev[i] == 0.f)
            throw error(n, "the constant makes a division by zero or is not finite");
    }
    if (!layers.empty() && layers.back().contains("normalize")) {  // (x - m1) / s1 then (y - m2) / s2
        json& last = layers.back()["normalize"];
        for (size_t i = 0; i < mean.size(); ++i) {
            const float m1 = last["mean"][i], s1 = last["std"][i];
            mean[i] = m1 + mean[i] * s1;
            stddev[i] = s1 * stddev[i];
        }
        layers.erase(layers.size() - 1);
    }
    layers.push_back({{"normalize", {{"mean", mean}, {"std", stddev}}}});
    return n.output(0);
}

std::string Importer::convert(const Node& n, json& layers, MapShape& s) {
    if (!converted_.insert(&n).second) throw error(n, "reached twice: it reads more than one computed tensor");
    const std::string& op = n.op_type();
    for (int k = 1; k < n.output_size(); ++k)
        if (consumers_.count(n.output(k)) || n.output(k) == output_)
            throw error(n, fmt::format("its output {} is used, which is not supported", k));
    int computed = 0;
    for (const auto& i : n.input()) computed += !i.empty() && !is_constant(i);
    const bool arithmetic = op == "Sub" || op == "Add" || op == "Mul" || op == "Div";
    if (computed != 1 && !arithmetic)
        throw error(n, fmt::format("it reads {} computed tensors; only a Concat may join several", computed));
    if (!arithmetic && (n.input_size() == 0 || is_constant(n.input(0))))
        throw error(n, "its first input must be the computed map, not a constant");
    if (!n.domain().empty() && n.domain() != "ai.onnx") throw error(n, "ops of domain '" + n.domain() + "' are not supported");
    if (op == "Conv") {
        const Window w = window(n);
        if (w.begin != w.end) throw error(n, "convolutions with more padding at the end than at the start are not supported");
        if (int_attr(n, "group", 1) != 1) throw error(n, "grouped convolutions are not supported");
        const std::vector<int64_t> wd = dims(constant(n, 1));
        if (wd.size() != 4 || wd[1] != s.c || wd[2] != w.kernel || wd[3] != w.kernel)
            throw error(n, fmt::format("weights [{}] for {} input channels and a {}x{} kernel", fmt::join(wd, ", "), s.c,
                                       w.kernel, w.kernel));
        const std::string name = param_name(n, 1);
        json conv{{"out", wd[0]}, {"kernel", w.kernel}, {"stride", w.stride}, {"pad", w.begin}};
        weights_[name + ".weight"] = LoadedTensor{wd, floats(n, 1)};
        if (n.input_size() > 2 && !n.input(2).empty()) {
            std::vector<float> b = floats(n, 2);
            if (int64_t(b.size()) != wd[0]) throw error(n, fmt::format("{} biases for {} channels", b.size(), wd[0]));
            weights_[name + ".bias"] = LoadedTensor{{wd[0]}, std::move(b)};
        } else {
            conv["bias"] = false;
        }
        layers.push_back({{"conv", conv}, {"name", name}});
        const int64_t h = window_positions(s.h, w.kernel, w.stride, w.begin, w.begin),
                      wide = window_positions(s.w, w.kernel, w.stride, w.begin, w.begin);
        if (h == 0 || wide == 0) throw error(n, fmt::format("a {0}x{0} kernel on a {1}x{1} map", w.kernel, s.h));
        s = {wd[0], h, wide};
        return n.output(0);
    }
    if (op == "Relu") {
        layers.push_back("relu");
        return n.output(0);
    }
    if (op == "MaxPool" || op == "AveragePool") return pool(n, layers, s);
    if (op == "GlobalAveragePool") {
        layers.push_back("global_avg_pool");
        s.h = s.w = 1;
        return n.output(0);
    }
    if (op == "LRN") {
        const auto* size = attribute(n, "size");
        if (!size || size->i() < 1 || size->i() % 2 == 0 || size->i() > 65536) throw error(n, "size must be a positive odd number");
        layers.push_back({{"lrn", {{"size", size->i()}, {"alpha", float_attr(n, "alpha", 1e-4f)},
                                   {"beta", float_attr(n, "beta", 0.75f)}, {"k", float_attr(n, "bias", 1.f)}}}});
        return n.output(0);
    }
    if (op == "BatchNormalization") {
        if (int_attr(n, "training_mode", 0) != 0) throw error(n, "only inference batch norm is supported");
        const std::string name = param_name(n, 1);
        const char* roles[] = {"weight", "bias", "running_mean", "running_var"};
        for (int i = 1; i <= 4; ++i) {
            std::vector<float> v = floats(n, i);
            if (int64_t(v.size()) != s.c) throw error(n, fmt::format("{} values for {} channels", v.size(), s.c));
            weights_[name + "." + roles[i - 1]] = LoadedTensor{{s.c}, std::move(v)};
        }
        weights_[name + ".num_batches_tracked"] = LoadedTensor{{}, {0.f}};
        layers.push_back({{"batch_norm", {{"eps", float_attr(n, "epsilon", 1e-5f)}}}, {"name", name}});
        return n.output(0);
    }
    if (op == "Dropout") {
        float p = float_attr(n, "ratio", 0.5f);
        if (n.input_size() > 1 && !n.input(1).empty()) p = floats(n, 1).at(0);
        if (p > 0.f && p < 1.f) layers.push_back({{"dropout", {{"p", p}}}});
        return n.output(0);
    }
    if (op == "Identity") return n.output(0);
    if (op == "Flatten" || op == "Reshape") {
        if (op == "Flatten" && int_attr(n, "axis", 1) != 1) throw error(n, "only Flatten on axis 1 is supported");
        if (op == "Reshape") {
            const std::vector<int64_t> shape = int64s(n, 1);
            const int64_t features = s.c * s.h * s.w;
            const bool flat = shape.size() == 2 && (shape[1] == -1 ? shape[0] == 0 || shape[0] == -1 : shape[1] == features);
            if (!flat)
                throw error(n, fmt::format("a reshape to [{}]: only flattening to [N, {}] is supported", fmt::join(shape, ", "),
                                           features));
            if (shape[0] > 0)
                result_.notes.push_back(fmt::format("node '{}': Reshape to [{}, {}] read as a flatten that keeps any batch size",
                                                    n.name(), shape[0], shape[1]));
        }
        layers.push_back("flatten");
        s = {s.c * s.h * s.w, 1, 1};
        return n.output(0);
    }
    if (op == "Gemm" || op == "MatMul") return linear(n, layers, s);
    if (op == "Sub" || op == "Add" || op == "Mul" || op == "Div") return normalize(n, layers, s);
    if (op == "Softmax") {
        if (n.output(0) != output_) throw error(n, "a Softmax is supported only as the graph's last node");
        result_.notes.push_back(fmt::format("node '{}': the final Softmax is left out: the model gives logits, and "
                                            "predict turns them into probabilities",
                                            n.name()));
        return n.output(0);
    }
    throw error(n, "this op is not supported (Conv, Relu, MaxPool, AveragePool, GlobalAveragePool, LRN, BatchNormalization, "
                   "Concat, Dropout, Identity, Flatten, Reshape, Gemm, MatMul, Softmax, and Sub/Add/Mul/Div by constants are)");
}

std::string Importer::branches(const std::string& v, json& layers, MapShape& s) {
    const std::vector<const Node*> starts = consumers_[v];
    const Node* join = nullptr;
    std::vector<std::pair<int, json>> paths;
    std::vector<MapShape> shapes;
    for (const Node* start : starts) {
        const auto not_joined = [&] {
            return error(*start, fmt::format("tensor '{}' feeds {} nodes, which do not all meet again in one Concat "
                                             "(only parallel paths that are concatenated, as in an Inception block, are supported)",
                                             v, starts.size()));
        };
        if (start->op_type() == "Concat") throw not_joined();
        json path = json::array();
        MapShape ps = s;
        const Node* j = nullptr;
        const std::string first = convert(*start, path, ps);
        const std::string end = chain(first, path, ps, &j);
        if (!j || (join && j != join)) throw not_joined();
        join = j;
        const auto at = std::find(join->input().begin(), join->input().end(), end);
        paths.emplace_back(int(at - join->input().begin()), std::move(path));
        shapes.push_back(ps);
    }
    if (join->input_size() != int(starts.size())) throw error(*join, "it joins other tensors than the paths from one tensor");
    const int64_t axis = int_attr(*join, "axis", 1);
    if (axis != 1 && axis != -3) throw error(*join, "only concatenation on channels (axis 1) is supported");
    MapShape out{0, shapes[0].h, shapes[0].w};
    for (const MapShape& ps : shapes) {
        if (ps.h != out.h || ps.w != out.w) throw error(*join, "its inputs have different map sizes");
        out.c += ps.c;
    }
    std::sort(paths.begin(), paths.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t p = 0; p < paths.size(); ++p)
        if (paths[p].first != int(p)) throw error(*join, "its inputs are not one from each parallel path");
    json list = json::array();
    for (auto& [index, path] : paths) list.push_back(std::move(path));
    layers.push_back({{"branches", list}});
    converted_.insert(join);
    s = out;
    return join->output(0);
}

std::string Importer::chain(std::string v, json& layers, MapShape& s, const Node** join) {
    for (;;) {
        const auto& next = consumers_[v];
        if (next.empty()) {
            if (v != output_) throw error(fmt::format("tensor '{}' leads nowhere: it is neither used nor the graph's output", v));
            return v;
        }
        if (next.size() == 1 && next[0]->op_type() == "Concat") {
            if (!join) throw error(*next[0], "a Concat that does not join parallel paths from one tensor");
            *join = next[0];
            return v;
        }
        v = next.size() == 1 ? convert(*next[0], layers, s) : branches(v, layers, s);
    }
}

ImportedModel Importer::run(const std::string& name) {
    std::ifstream in(path_, std::ios::binary);
    if (!in) throw error(std::string("cannot open (") + std::strerror(errno) + ")");
    std::stringstream bytes;
    bytes << in.rdbuf();
    if (!model_.ParseFromString(bytes.str())) throw error("not an ONNX model (its protobuf encoding does not parse)");
    const onnx::GraphProto& g = model_.graph();
    for (const auto& t : g.initializer()) constants_[t.name()] = &t;
    for (const auto& n : g.node()) {
        if (n.output_size() < 1 || n.output(0).empty()) throw error(n, "it has no output");
        if (n.op_type() == "Constant") {
            const auto* value = attribute(n, "value");
            if (!value || !value->has_t() || n.output_size() != 1) throw error(n, "only Constants with a tensor value are supported");
            constants_[n.output(0)] = &value->t();
            converted_.insert(&n);
        }
    }
    for (const auto& n : g.node())
        for (const auto& i : n.input())
            if (!i.empty() && !is_constant(i)) consumers_[i].push_back(&n);

    std::vector<const onnx::ValueInfoProto*> inputs;
    for (const auto& i : g.input())
        if (!is_constant(i.name())) inputs.push_back(&i);
    if (inputs.size() != 1 || g.output_size() != 1)
        throw error(fmt::format("the graph has {} inputs and {} outputs; a classifier has one of each", inputs.size(), g.output_size()));
    output_ = g.output(0).name();
    const auto& type = inputs[0]->type().tensor_type();
    if (type.elem_type() != onnx::TensorProto::FLOAT || type.shape().dim_size() != 4)
        throw error("input '" + inputs[0]->name() + "' is not a 4-D float tensor (N x C x H x W)");
    const auto& d = type.shape().dim();
    if (!d[1].has_dim_value() || d[1].dim_value() < 1 || d[1].dim_value() > 65536)
        throw error("input '" + inputs[0]->name() + "' has no fixed channel count");
    int64_t size = size_;
    if (size == 0) {
        if (!d[2].has_dim_value() || !d[3].has_dim_value() || d[2].dim_value() != d[3].dim_value() || d[2].dim_value() < 1)
            throw error("input '" + inputs[0]->name() + "' has no fixed square size: give one (--size)");
        size = d[2].dim_value();
    }
    if (size > 65536) throw error("an input size above 65536");

    MapShape s{d[1].dim_value(), size, size};
    json body = json::array();
    chain(inputs[0]->name(), body, s, nullptr);
    for (const auto& n : g.node())
        if (!converted_.count(&n)) throw error(n, "not on the path from the input to the output");
    if (s.h != 1 || s.w != 1 || classes_ == 0)
        throw error(fmt::format("the graph ends with [{}, {}, {}] values per image, not a linear layer's class scores", s.c, s.h, s.w));
    // One layer per line, as the built-in model files are laid out.
    std::string text = fmt::format("{{\n  \"name\": {},\n  \"description\": {},\n  \"input\": {{\"channels\": {}, \"size\": {}}},\n"
                                   "  \"classes\": {},\n  \"body\": [\n",
                                   text_of(json(name)),
                                   text_of(json(fmt::format("imported from {} (made by {} {})", path_, model_.producer_name(),
                                                            model_.producer_version()))),
                                   d[1].dim_value(), size, classes_);
    for (size_t i = 0; i < body.size(); ++i) text += "    " + text_of(body[i]) + (i + 1 < body.size() ? ",\n" : "\n");
    result_.model_text = text + "  ]\n}\n";
    // What the importer made must lay out as a network and fill it exactly.
    result_.spec = parse_model(result_.model_text, path_ + " (imported as a model file)");
    result_.net = build_net(result_.spec);
    result_.net.params().allocate();
    assign_params(result_.net.params(), weights_, path_);
    return std::move(result_);
}

}  // namespace

ImportedModel import_onnx(const std::string& path, const std::string& name, int size) {
    return Importer(path, size).run(name);
}

}  // namespace googlenet
