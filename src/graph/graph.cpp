#include "googlenet/graph.h"

#include <cmath>
#include <cstdio>

#include "googlenet/shape_rules.h"

namespace googlenet {

namespace {

std::string number(float v) {
    char s[32];
    std::snprintf(s, sizeof s, "%g", double(v));
    return s;
}

std::string window(const OpAttributes& a) {
    return std::to_string(a.kernel_h) + "x" + std::to_string(a.kernel_w) + "/" + std::to_string(a.stride);
}

}  // namespace

std::string describe(const OpAttributes& a, const Shape& in, size_t inputs) {
    switch (a.kind) {
        case OpAttributes::conv:
            return std::string("conv") + (a.folded_norm ? "+batch-norm" : "") + (a.fused_relu ? "+relu " : " ") + window(a) + " " + std::to_string(in.c) + "->" +
                   std::to_string(a.out_channels);
        case OpAttributes::relu: return "relu";
        case OpAttributes::max_pool: return "max-pool " + window(a) + (a.ceil_mode ? " ceil" : "");
        case OpAttributes::avg_pool: return "avg-pool " + window(a);
        case OpAttributes::adaptive_avg_pool:
            return "adaptive-avg-pool to " + std::to_string(a.out_h) + "x" + std::to_string(a.out_w);
        case OpAttributes::batch_norm: return std::string(a.fused_relu ? "batch-norm+relu" : "batch-norm") + " eps " + number(a.eps);
        case OpAttributes::lrn:
            return "lrn size " + std::to_string(a.size) + ", alpha " + number(a.alpha) + ", beta " + number(a.beta) +
                   ", k " + number(a.k);
        case OpAttributes::dropout: return "dropout p=" + number(a.p);
        case OpAttributes::concat: return "concat x" + std::to_string(inputs);
        case OpAttributes::linear: return "linear " + std::to_string(in.per_image()) + "->" + std::to_string(a.out_channels);
        case OpAttributes::normalize: return "normalize " + std::to_string(a.mean.size()) + " channels";
    }
    return "?";
}

Shape output_shape(const OpAttributes& a, const std::vector<Shape>& in) {
    const Shape x = in.at(0);
    switch (a.kind) {
        case OpAttributes::conv:
        case OpAttributes::max_pool:
        case OpAttributes::avg_pool:
            return Shape{1, a.kind == OpAttributes::conv ? a.out_channels : x.c,
                         window_positions(x.h, a.kernel_h, a.stride, a.pad, a.ceil_mode),
                         window_positions(x.w, a.kernel_w, a.stride, a.pad, a.ceil_mode)};
        case OpAttributes::adaptive_avg_pool: return Shape{1, x.c, a.out_h, a.out_w};
        case OpAttributes::concat: {
            Shape out = x;
            out.c = 0;
            for (const Shape& s : in) out.c += s.c;
            return out;
        }
        case OpAttributes::linear: return Shape{1, a.out_channels, 1, 1};
        case OpAttributes::relu:
        case OpAttributes::batch_norm:
        case OpAttributes::lrn:
        case OpAttributes::dropout:
        case OpAttributes::normalize: return x;
    }
    return x;
}

Graph::Graph(int channels, int height, int width) { shapes_.push_back(Shape{1, channels, height, width}); }

void Graph::check(ValueId x) const {
    if (x < 0 || x >= value_count())
        throw Error("value " + std::to_string(x) + " is not in the graph (it has " + std::to_string(value_count()) + ")");
}

ValueId Graph::add(Node node) {
    std::vector<Shape> in;
    for (ValueId x : node.inputs) check(x), in.push_back(shape(x));
    const Shape out = output_shape(node.op, in);
    if (out.c < 1 || out.h < 1 || out.w < 1)
        throw Error("input too small: " + describe(node.op, in[0], in.size()) + " (op " + std::to_string(nodes_.size()) +
                    ") would produce " + out.str() + " from " + in[0].str());
    nodes_.push_back(std::move(node));
    shapes_.push_back(out);
    output_ = value_count() - 1;
    return output_;
}

ValueId Graph::conv(ValueId x, ConvSpec s, const std::string& param_name) {
    OpAttributes a{OpAttributes::conv};
    a.kernel_h = a.kernel_w = s.kernel, a.stride = s.stride, a.pad = s.pad, a.out_channels = s.out_channels;
    a.bias = s.bias;
    return add(Node{a, {x}, param_name});
}

ValueId Graph::relu(ValueId x) { return add(Node{OpAttributes::relu, {x}}); }

ValueId Graph::max_pool(ValueId x, int kernel, int stride, int pad, bool ceil_mode) {
    OpAttributes a{OpAttributes::max_pool};
    a.kernel_h = a.kernel_w = kernel, a.stride = stride, a.pad = pad, a.ceil_mode = ceil_mode;
    return add(Node{a, {x}});
}

ValueId Graph::avg_pool(ValueId x, int kernel, int stride, int pad) {
    OpAttributes a{OpAttributes::avg_pool};
    a.kernel_h = a.kernel_w = kernel, a.stride = stride, a.pad = pad;
    return add(Node{a, {x}});
}

ValueId Graph::global_avg_pool(ValueId x) {
    check(x);
    OpAttributes a{OpAttributes::avg_pool};
    a.kernel_h = shape(x).h, a.kernel_w = shape(x).w;
    return add(Node{a, {x}});
}

ValueId Graph::batch_norm(ValueId x, float eps, float momentum, const std::string& param_name) {
    if (!(eps > 0.f) || !(momentum >= 0.f && momentum <= 1.f))
        throw Error("batch-norm " + param_name + ": eps must be positive and momentum in [0, 1]");
    OpAttributes a{OpAttributes::batch_norm};
    a.eps = eps, a.momentum = momentum;
    return add(Node{a, {x}, param_name});
}

ValueId Graph::adaptive_avg_pool(ValueId x, int out_h, int out_w) {
    check(x);
    const Shape in = shape(x);
    if (out_h < 1 || out_w < 1 || out_h > in.h || out_w > in.w)
        throw Error("adaptive-avg-pool to " + std::to_string(out_h) + "x" + std::to_string(out_w) + ": input too small (" +
                    in.str() + ")");
    OpAttributes a{OpAttributes::adaptive_avg_pool};
    a.out_h = out_h, a.out_w = out_w;
    return add(Node{a, {x}});
}

ValueId Graph::lrn(ValueId x, int size, float alpha, float beta, float k) {
    if (size < 1 || size % 2 == 0) throw Error("lrn: the window size must be odd, not " + std::to_string(size));
    OpAttributes a{OpAttributes::lrn};
    a.size = size, a.alpha = alpha, a.beta = beta, a.k = k;
    return add(Node{a, {x}});
}

ValueId Graph::dropout(ValueId x, float p) {
    if (!(p >= 0.f && p < 1.f)) throw Error("dropout: p must be in [0, 1), not " + std::to_string(p));
    OpAttributes a{OpAttributes::dropout};
    a.p = p;
    return add(Node{a, {x}});
}

ValueId Graph::normalize(ValueId x, std::vector<float> mean, std::vector<float> stddev) {
    check(x);
    const int c = shape(x).c;
    if (int(mean.size()) != c || int(stddev.size()) != c)
        throw Error("normalize: " + std::to_string(mean.size()) + " means and " + std::to_string(stddev.size()) +
                    " standard deviations for " + std::to_string(c) + " channels");
    for (float s : stddev)
        if (!(s != 0.f && std::isfinite(s))) throw Error("normalize: a standard deviation must be finite and non-zero");
    OpAttributes a{OpAttributes::normalize};
    a.mean = std::move(mean), a.stddev = std::move(stddev);
    return add(Node{a, {x}});
}

ValueId Graph::concat(const std::vector<ValueId>& xs) {
    if (xs.empty()) throw Error("concat: no inputs");
    for (ValueId x : xs) {
        check(x);
        const Shape s = shape(x), first = shape(xs[0]);
        if (s.h != first.h || s.w != first.w)
            throw Error("concat: spatial sizes differ (" + s.str() + " vs " + first.str() + ")");
    }
    return add(Node{OpAttributes::concat, xs});
}

ValueId Graph::linear(ValueId x, int out_features, const std::string& param_name) {
    check(x);
    if (shape(x).per_image() > size_t(1) << 30)
        throw Error("linear " + param_name + ": " + std::to_string(shape(x).per_image()) +
                    " input features are too many (flatten a smaller map)");
    OpAttributes a{OpAttributes::linear};
    a.out_channels = out_features;
    return add(Node{a, {x}, param_name});
}

void Graph::set_output(ValueId x) {
    check(x);
    output_ = x;
}

void Graph::add_auxiliary(size_t first, ValueId logits, float weight) {
    if (first >= nodes_.size()) throw Error("an auxiliary classifier needs at least one op");
    check(logits);
    for (size_t i = first; i < nodes_.size(); ++i) nodes_[i].auxiliary = true;
    auxiliaries_.push_back({logits, weight});
}

void Graph::name_block(ValueId x, const std::string& name) {
    check(x);
    block_names_.emplace_back(x, name);
}

}  // namespace googlenet
