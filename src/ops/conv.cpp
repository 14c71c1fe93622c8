// 2-D convolution, with or without bias: oneDNN forward, backward-data and backward-weights primitives.
#include <cmath>

#include "core/runtime.h"
#include "ops/conv_int8.h"
#include "ops/ops.h"
#include "ops/primitive_layouts.h"
#include "ops/winograd.h"

namespace googlenet {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

class Conv2d final : public Op {
public:
    Conv2d(ParamStore& params, int in_channels, ConvSpec spec, const std::string& name)
        : cin_(in_channels), spec_(spec) {
        const int64_t k = spec.kernel, cout = spec.out_channels, fan_in = cin_ * k * k, fan_out = cout * k * k;
        weight_ = params.add(name + ".weight", {cout, cin_, k, k}, fan_in, fan_out, false);
        bias_ = spec.bias ? params.add(name + ".bias", {cout}, fan_in, fan_out, true) : -1;
    }

    bool fuse_relu(bool on) override {
        relu_ = on;
        relu_mask = on ? ReluMask::own : ReluMask::none;
        return true;
    }

    bool fold_norm(const Op* norm) override {
        norm_ = FoldedNorm{};
        folded_w_ = Buffer(), folded_b_ = Buffer();  // made by prepare: a net that runs split prepares only its copies
        folded_ready_ = false;
        if (!norm) return true;
        const std::vector<int> p = norm->param_indices(), b = norm->buffer_indices();
        norm_ = FoldedNorm{p.at(0), p.at(1), b.at(0), b.at(1), norm->attributes().eps};
        return true;
    }

    OpAttributes attributes() const override {
        OpAttributes a{OpAttributes::conv};
        a.kernel_h = a.kernel_w = spec_.kernel, a.stride = spec_.stride, a.pad = spec_.pad, a.fused_relu = relu_;
        a.folded_norm = norm_.on();
        a.out_channels = spec_.out_channels, a.bias = spec_.bias;
        return a;
    }

    std::vector<const Value*> saved_for_backward() const override {
        if (relu_mask == ReluMask::own) return {inputs[0], output};
        return {inputs[0]};  // backward-weights reads the input
    }

    std::vector<int> param_indices() const override {
        return bias_ >= 0 ? std::vector<int>{weight_, bias_} : std::vector<int>{weight_};
    }

    int64_t macs_per_image() const override {
        return int64_t(output->shape.per_image()) * cin_ * spec_.kernel * spec_.kernel;
    }

    void prepare(Runtime& rt) override {
        if (norm_.on() && rt.state.training) throw Error("internal: " + describe() + " planned for training with a batch norm folded in");
        if (norm_.on() && !folded_w_.size()) {
            folded_w_.resize(size_t(spec_.out_channels) * size_t(cin_) * size_t(spec_.kernel) * size_t(spec_.kernel));
            folded_b_.resize(size_t(spec_.out_channels));
        }
        bf16_ = compute == DataType::bf16;
        if (bf16_) return prepare_bf16(rt);
        if (compute == DataType::s8) {
            winograd_on_ = winograd_bwd_on_ = winograd_bww_on_ = winograd_ready_ = false;
            int8_.prepare(rt, *inputs[0], *output, cin_, spec_, relu_, has_bias());
            kernels_ = int8_.kernel() + " | - | -";
            return;
        }
        const int k = spec_.kernel;
        src_ = desc_of(*inputs[0]);
        dst_ = desc_of(*output);
        // Weights: the arena keeps PyTorch's OIHW; each primitive gets them in the layout it
        // picks (format_tag::any), through a reorder when that differs.
        wei_ = memory::desc({spec_.out_channels, cin_, k, k}, memory::data_type::f32, tag::oihw);
        const memory::desc wei_any({spec_.out_channels, cin_, k, k}, memory::data_type::f32, tag::any);
        // A zero descriptor tells oneDNN there is no bias.
        bias_md_ = has_bias() ? memory::desc({spec_.out_channels}, memory::data_type::f32, tag::a) : memory::desc();
        const memory::dims strides{spec_.stride, spec_.stride}, pad{spec_.pad, spec_.pad};
        const dnnl::primitive_attr attr = relu_attr();
        auto fwd_pd = dnnl::convolution_forward::primitive_desc(
            rt.engine, dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src_,
            wei_any, bias_md_, dst_, strides, pad, pad, attr);
        // Winograd, where it applies, replaces the direct forward, and backward-data and backward-
        // weights where their own tile choice finds it cheaper (backward-weights also needs enough
        // tiles per thread): the replaced passes' primitives and weight buffers are not made.
        // Nets that share work (Runtime::shared; WinogradConv::set_weights) choose alike.
        Shape in_choice = inputs[0]->shape, out_choice = output->shape;
        if (rt.algorithm_batch > 0) in_choice.n = out_choice.n = rt.algorithm_batch;
        const int max_tile = rt.options.winograd_max_tile;
        winograd_on_ =
            WinogradConv::applies(k, spec_.stride, spec_.pad, inputs[0]->layout, output->layout, cin_, out_choice, max_tile);
        winograd_ready_ = winograd_bww_on_ = winograd_bwd_on_ = false;
        if (winograd_on_) {
            winograd_.prepare(rt, inputs[0]->shape, output->shape, k, relu_, WinogradConv::tile_for(out_choice, k, WinogradConv::Pass::forward, max_tile));
            const int bwd_tile = WinogradConv::tile_for(in_choice, k, WinogradConv::Pass::backward_data, max_tile);
            winograd_bwd_on_ = inputs[0]->needs_grad && bwd_tile;
            if (winograd_bwd_on_) winograd_bwd_.prepare(rt, output->shape, inputs[0]->shape, k, false, bwd_tile);
            const int bww_tile = WinogradConv::tile_for(out_choice, k, WinogradConv::Pass::backward_weights, max_tile);
            winograd_bww_on_ = bww_tile && WinogradConv::has_backward_weights(out_choice, bww_tile);
            if (winograd_bww_on_) winograd_bww_.prepare(rt, inputs[0]->shape, output->shape, k, false, bww_tile);
        } else {
            fwd_ = dnnl::convolution_forward(fwd_pd);
            fwd_wei_ = PrimitiveWeights(rt, wei_, fwd_pd.weights_desc());
        }
        auto bww_pd = dnnl::convolution_backward_weights::primitive_desc(
            rt.engine, dnnl::algorithm::convolution_direct, src_, wei_any, bias_md_, dst_, strides, pad, pad, fwd_pd);
        plain_src_ = plain_dst_ = Plain{};
        bool plain_bww = false;
        const memory::desc src_nchw = desc_of(inputs[0]->shape, Layout::nchw), dst_nchw = desc_of(output->shape, Layout::nchw);
        if (std::string(bww_pd.impl_info_str()).rfind("ref", 0) == 0 && (src_ != src_nchw || dst_ != dst_nchw)) {
            // No JIT kernel for this backward-weights problem in blocked layouts (on AVX2: the
            // 1-channel first layer and 5x5 kernels on 3x3 maps). In plain NCHW oneDNN has a GEMM
            // one, far faster than its reference loop even with the two reorders.
            auto plain_fwd = dnnl::convolution_forward::primitive_desc(
                rt.engine, dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src_nchw, wei_any,
                bias_md_, dst_nchw, strides, pad, pad);
            bww_pd = dnnl::convolution_backward_weights::primitive_desc(rt.engine, dnnl::algorithm::convolution_direct,
                                                                        src_nchw, wei_any, bias_md_, dst_nchw, strides,
                                                                        pad, pad, plain_fwd);
            plain_bww = true;
            plain_src_ = Plain(rt, src_, src_nchw);
            plain_dst_ = Plain(rt, dst_, dst_nchw);
        }
        if (!winograd_bww_on_) {
            bwd_weights_ = dnnl::convolution_backward_weights(bww_pd);
            dw_ = PrimitiveWeights(rt, wei_, bww_pd.diff_weights_desc());
        }
        std::string data_kernel = "-";  // the image needs no gradient
        if (inputs[0]->needs_grad && !winograd_bwd_on_) {
            auto bwd_pd = dnnl::convolution_backward_data::primitive_desc(
                rt.engine, dnnl::algorithm::convolution_direct, src_, wei_any, dst_, strides, pad, pad, fwd_pd);
            bwd_data_ = dnnl::convolution_backward_data(bwd_pd);
            bwd_wei_ = PrimitiveWeights(rt, wei_, bwd_pd.weights_desc());
            data_kernel = bwd_pd.impl_info_str();
        }
        auto ours = [](const WinogradConv& w) { return "winograd F(" + std::to_string(w.tile()) + "x" + std::to_string(w.tile()) + ")"; };
        kernels_ = (winograd_on_ ? ours(winograd_) : std::string(fwd_pd.impl_info_str())) + " | " +
                   (winograd_bwd_on_ ? ours(winograd_bwd_) : data_kernel) + " | " +
                   (winograd_bww_on_ ? ours(winograd_bww_) : (plain_bww ? "nchw " : "") + std::string(bww_pd.impl_info_str()));
    }
    std::string kernels() const override { return kernels_; }

    void forward(Runtime& rt) override {
        if (compute == DataType::s8) return int8_.forward(rt, weights(rt), bias(rt), *inputs[0], *output);
        if (winograd_on_) {  // never in bf16
            // SGD moves the weights every step; in evaluation they stay until weights_epoch changes,
            // and small batches keep their transformed weights.
            if (rt.state.training || !winograd_ready_ || winograd_epoch_ != rt.state.weights_epoch) {
                winograd_.set_weights(rt, weights(rt));
                winograd_ready_ = winograd_.keeps_weights();
                winograd_epoch_ = rt.state.weights_epoch;
            }
            winograd_.forward(rt, inputs[0]->data.data(), bias(rt), output->data.data());
            return;
        }
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, bf16_ ? bf16_src(rt) : rt.mem(src_, inputs[0]->data.data())},
                                             {DNNL_ARG_WEIGHTS, fwd_wei_.from_user(rt, weights(rt))},
                                             {DNNL_ARG_DST, rt.mem(dst_, output->data.data())}};
        if (has_bias()) args[DNNL_ARG_BIAS] = rt.mem(bias_md_, bias(rt));
        fwd_.execute(rt.stream, args);
    }

    // Parts are output-channel ranges of whole blocks; at batch 1 each is a dense blocked tensor
    // inside the output (a block's channels are contiguous over the map), and its weights and
    // bias are contiguous runs of the arena's.
    bool can_split_forward() const override {
        return compute == DataType::f32 && output->layout == Layout::blocked && output->shape.n == 1 && spec_.out_channels >= 2 * channel_block();
    }

    void prepare_parts(Runtime& rt, int parts) override {
        parts_.assign(size_t(parts), Part{});
        const int L = channel_block(), blocks = (spec_.out_channels + L - 1) / L, k = spec_.kernel;
        for (int p = 0; p < parts; ++p) {
            Part& q = parts_[size_t(p)];
            q.first = blocks * p / parts * L;
            Shape out = output->shape;
            out.c = std::min(spec_.out_channels, blocks * (p + 1) / parts * L) - q.first;
            q.channels = out.c;
            if (winograd_on_) {
                q.winograd.prepare(rt, inputs[0]->shape, out, k, relu_, 0);
                continue;
            }
            q.dst = desc_of(out, Layout::blocked);
            q.bias = has_bias() ? memory::desc({out.c}, memory::data_type::f32, tag::a) : memory::desc();
            const memory::desc wei({out.c, cin_, k, k}, memory::data_type::f32, tag::oihw);
            const memory::desc wei_any({out.c, cin_, k, k}, memory::data_type::f32, tag::any);
            auto pd = dnnl::convolution_forward::primitive_desc(
                rt.engine, dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_, wei_any, q.bias,
                q.dst, memory::dims{spec_.stride, spec_.stride}, memory::dims{spec_.pad, spec_.pad},
                memory::dims{spec_.pad, spec_.pad}, relu_attr());
            q.fwd = dnnl::convolution_forward(pd);
            q.wei = PrimitiveWeights(rt, wei, pd.weights_desc());
        }
    }

    void forward_part(Runtime& rt, int part) override {
        Part& q = parts_[size_t(part)];
        const size_t k2 = size_t(spec_.kernel) * size_t(spec_.kernel);
        if (norm_.on() && (!q.folded || q.fold_epoch != rt.state.weights_epoch)) {
            // Each part folds its own channels: the parts run at once on different threads.
            fold(rt, q.first, q.first + q.channels);
            q.folded = true;
            q.fold_epoch = rt.state.weights_epoch;
        }
        const float* weights = (norm_.on() ? folded_w_.data() : rt.params.value(weight_)) + size_t(q.first) * size_t(cin_) * k2;
        const float* bias = !has_bias() ? nullptr : (norm_.on() ? folded_b_.data() : rt.params.value(bias_)) + q.first;
        float* dst = output->data.data() + size_t(q.first) * size_t(output->shape.h) * size_t(output->shape.w);
        if (winograd_on_) {
            if (!q.ready || q.epoch != rt.state.weights_epoch) {
                q.winograd.set_weights(rt, weights);
                q.ready = q.winograd.keeps_weights();
                q.epoch = rt.state.weights_epoch;
            }
            q.winograd.forward(rt, inputs[0]->data.data(), bias, dst);
            return;
        }
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, rt.mem(src_, inputs[0]->data.data())},
                                             {DNNL_ARG_WEIGHTS, q.wei.from_user(rt, weights)},
                                             {DNNL_ARG_DST, rt.mem(q.dst, dst)}};
        if (bias) args[DNNL_ARG_BIAS] = rt.mem(q.bias, bias);
        q.fwd.execute(rt.stream, args);
    }

    void backward(Runtime& rt) override {
        if (norm_.on())
            throw Error(describe() + ": no backward in evaluation with the batch norm folded in (Options::fold_batch_norm)");
        if (compute == DataType::s8) throw Error(describe() + ": no backward in int8, which is for inference only");
        if (bf16_) return backward_bf16(rt);
        auto diff_dst = rt.mem(dst_, output->grad.data());
        backward_weights(rt, diff_dst);
        float* target = rt.input_grad(0);
        if (!target) return;
        if (winograd_bwd_on_) {
            winograd_bwd_.set_weights(rt, rt.params.value(weight_), true);
            winograd_bwd_.forward(rt, output->grad.data(), nullptr, target);
            return;
        }
        bwd_data_.execute(rt.stream, {{DNNL_ARG_DIFF_DST, diff_dst},
                                      {DNNL_ARG_WEIGHTS, bwd_wei_.from_user(rt, rt.params.value(weight_))},
                                      {DNNL_ARG_DIFF_SRC, rt.mem(src_, target)}});
    }

private:
    // bf16 (Options::precision), as PyTorch's autocast runs a convolution: bf16 input and weights,
    // sums in f32, on oneDNN's AMX kernels, which run channels-last (src/passes/precision.h). The
    // output is the value's type (bf16, or f32 where a reader needs it); an f32 input is converted
    // first, the weights from the arena's f32 master copy (once per weights_epoch in evaluation,
    // every step in training). Backward reads the output's gradient in bf16 and writes the input's
    // in its value's type; the weights' gradients are f32.
    void prepare_bf16(Runtime& rt) {
        const int k = spec_.kernel;
        const bool training = rt.state.training;
        winograd_on_ = winograd_bwd_on_ = winograd_bww_on_ = winograd_ready_ = false;
        in_md_ = desc_of(*inputs[0]);
        src_ = desc_of(inputs[0]->shape, Layout::nhwc, DataType::bf16);
        // Transient slots: 0 the input in bf16, 1 the output's gradient in bf16, 2 the input's
        // gradient before its reorder.
        to_bf16_ = Plain(rt, in_md_, src_, 0);
        dst_ = desc_of(*output);
        wei_ = memory::desc({spec_.out_channels, cin_, k, k}, memory::data_type::f32, tag::oihw);
        const memory::desc wei_any({spec_.out_channels, cin_, k, k}, memory::data_type::bf16, tag::any);
        bias_md_ = has_bias() ? memory::desc({spec_.out_channels}, memory::data_type::f32, tag::a) : memory::desc();
        const memory::dims strides{spec_.stride, spec_.stride}, pad{spec_.pad, spec_.pad};
        auto pd = dnnl::convolution_forward::primitive_desc(
            rt.engine, training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
            dnnl::algorithm::convolution_direct, src_, wei_any, bias_md_, dst_, strides, pad, pad, relu_attr());
        fwd_ = dnnl::convolution_forward(pd);
        fwd_wei_ = PrimitiveWeights(rt, wei_, pd.weights_desc());
        kernels_ = std::string(in_md_ != src_ ? "to bf16 nhwc, " : "") + pd.impl_info_str();
        if (!training) {
            kernels_ += " | - | -";
            return;
        }
        // The gradients are of their values' types: a bf16 output's is the bf16 NHWC that
        // backward reads; an f32 one (where an f32 op reads the output) is converted first.
        const memory::desc dd = desc_of(output->shape, Layout::nhwc, DataType::bf16);
        grad_dst_ = desc_of(*output);
        dd_to_bf16_ = Plain(rt, grad_dst_, dd, 1);
        auto bww_pd = dnnl::convolution_backward_weights::primitive_desc(
            rt.engine, dnnl::algorithm::convolution_direct, src_,
            memory::desc({spec_.out_channels, cin_, k, k}, memory::data_type::f32, tag::any), bias_md_, dd, strides, pad,
            pad, pd);
        bwd_weights_ = dnnl::convolution_backward_weights(bww_pd);
        dw_ = PrimitiveWeights(rt, wei_, bww_pd.diff_weights_desc());
        std::string data_kernel = "-";
        if (inputs[0]->needs_grad) {
            // oneDNN's AMX backward-data writes channels-last; another layout gets a reorder.
            grad_src_ = desc_of(*inputs[0]);
            diff_src_nhwc_ = desc_of(inputs[0]->shape, Layout::nhwc, inputs[0]->type);
            auto bwd_pd = dnnl::convolution_backward_data::primitive_desc(
                rt.engine, dnnl::algorithm::convolution_direct, diff_src_nhwc_, wei_any, dd, strides, pad, pad, pd);
            bwd_data_ = dnnl::convolution_backward_data(bwd_pd);
            bwd_wei_ = PrimitiveWeights(rt, wei_, bwd_pd.weights_desc());
            from_nhwc_ = grad_src_ != diff_src_nhwc_
                             ? dnnl::reorder(dnnl::reorder::primitive_desc(rt.engine, diff_src_nhwc_, rt.engine, grad_src_))
                             : dnnl::reorder();
            data_kernel = std::string(bwd_pd.impl_info_str()) + (from_nhwc_ ? ", to " + to_string(inputs[0]->layout) : "");
        }
        kernels_ += " | " + data_kernel + " | " + bww_pd.impl_info_str();
    }

    memory bf16_src(Runtime& rt) { return to_bf16_.of(rt, rt.mem(in_md_, inputs[0]->data.data())); }

    void backward_bf16(Runtime& rt) {
        const memory dd = dd_to_bf16_.of(rt, rt.mem(grad_dst_, output->grad.data()));
        float* target = rt.input_grad(0);
        if (target) {
            memory diff_src = rt.mem(grad_src_, target);
            if (from_nhwc_)
                diff_src = rt.mem(diff_src_nhwc_, rt.transient(2, (diff_src_nhwc_.get_size() + sizeof(float) - 1) / sizeof(float)));
            bwd_data_.execute(rt.stream, {{DNNL_ARG_DIFF_DST, dd},
                                          {DNNL_ARG_WEIGHTS, bwd_wei_.from_user(rt, rt.params.value(weight_))},
                                          {DNNL_ARG_DIFF_SRC, diff_src}});
            if (from_nhwc_) from_nhwc_.execute(rt.stream, {{DNNL_ARG_FROM, diff_src}, {DNNL_ARG_TO, rt.mem(grad_src_, target)}});
        }
        WeightsTime weights_time(rt);
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, bf16_src(rt)},
                                             {DNNL_ARG_DIFF_DST, dd},
                                             {DNNL_ARG_DIFF_WEIGHTS, dw_.target(rt, rt.params.grad(weight_))}};
        if (bias_ >= 0) args[DNNL_ARG_DIFF_BIAS] = rt.mem(bias_md_, rt.params.grad(bias_));
        bwd_weights_.execute(rt.stream, args);
        dw_.copy_to_user(rt, rt.params.grad(weight_));
    }

    void backward_weights(Runtime& rt, const memory& diff_dst) {
        WeightsTime weights_time(rt);
        if (winograd_bww_on_) {
            winograd_bww_.backward_weights(rt, inputs[0]->data.data(), output->grad.data(), rt.params.grad(weight_),
                                           bias_ >= 0 ? rt.params.grad(bias_) : nullptr);
            return;
        }
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, plain_src_.of(rt, rt.mem(src_, inputs[0]->data.data()))},
                                             {DNNL_ARG_DIFF_DST, plain_dst_.of(rt, diff_dst)},
                                             {DNNL_ARG_DIFF_WEIGHTS, dw_.target(rt, rt.params.grad(weight_))}};
        if (bias_ >= 0) args[DNNL_ARG_DIFF_BIAS] = rt.mem(bias_md_, rt.params.grad(bias_));
        bwd_weights_.execute(rt.stream, args);
        dw_.copy_to_user(rt, rt.params.grad(weight_));
    }

    dnnl::primitive_attr relu_attr() const {
        dnnl::primitive_attr attr;
        if (relu_) {
            dnnl::post_ops ops;
            ops.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
            attr.set_post_ops(ops);
        }
        return attr;
    }

    // A range of output channels, from `first`, computed on its own (can_split_forward).
    struct Part {
        int first = 0, channels = 0;
        memory::desc dst, bias;
        dnnl::convolution_forward fwd;
        PrimitiveWeights wei;
        WinogradConv winograd;
        bool ready = false;  // winograd holds the weights of `epoch`
        uint64_t epoch = 0;
        bool folded = false;  // with a batch norm folded in: its channels of folded_w_ are of fold_epoch
        uint64_t fold_epoch = 0;
    };

    // A batch norm folded into this convolution (fold_norm): its parameters' and buffers' indices.
    struct FoldedNorm {
        int scale = -1, shift = -1, mean = -1, var = -1;
        float eps = 0;
        bool on() const { return scale >= 0; }
    };

    bool has_bias() const { return bias_ >= 0 || norm_.on(); }

    // The weights and bias forward uses: the arena's, or with a batch norm folded in, folded
    // (again whenever weights_epoch has moved).
    const float* weights(Runtime& rt) {
        if (!norm_.on()) return rt.params.value(weight_);
        if (!folded_ready_ || folded_epoch_ != rt.state.weights_epoch) {
            fold(rt, 0, spec_.out_channels);
            folded_ready_ = true;
            folded_epoch_ = rt.state.weights_epoch;
        }
        return folded_w_.data();
    }
    const float* bias(Runtime& rt) {
        if (norm_.on()) {
            weights(rt);  // folds the bias with the weights
            return folded_b_.data();
        }
        return bias_ >= 0 ? rt.params.value(bias_) : nullptr;
    }

    // Output channels [first, last) of the folded weights and bias: batch norm in evaluation is
    // y = (x - mean) * s + shift with s = scale / sqrt(var + eps), so the convolution's weights
    // become w * s and its bias (b - mean) * s + shift. s in double, as the rounding of one
    // product per weight is then all that differs from the unfolded pair.
    void fold(Runtime& rt, int first, int last) {
        const size_t per_channel = size_t(cin_) * size_t(spec_.kernel) * size_t(spec_.kernel);
        const float* w = rt.params.value(weight_);
        const float *scale = rt.params.value(norm_.scale), *shift = rt.params.value(norm_.shift);
        const float *mean = rt.params.buffer(norm_.mean), *var = rt.params.buffer(norm_.var);
        for (int o = first; o < last; ++o) {
            const double s = double(scale[o]) / std::sqrt(double(var[o]) + double(norm_.eps));
            for (size_t i = size_t(o) * per_channel; i < size_t(o + 1) * per_channel; ++i) folded_w_[i] = float(double(w[i]) * s);
            const double b = bias_ >= 0 ? double(rt.params.value(bias_)[o]) : 0.0;
            folded_b_[size_t(o)] = float((b - double(mean[o])) * s + double(shift[o]));
        }
    }

    int cin_;
    ConvSpec spec_;
    int weight_, bias_;
    memory::desc src_, dst_, wei_, bias_md_;
    dnnl::convolution_forward fwd_;
    dnnl::convolution_backward_data bwd_data_;
    dnnl::convolution_backward_weights bwd_weights_;
    PrimitiveWeights fwd_wei_, bwd_wei_, dw_;
    Plain plain_src_, plain_dst_;
    bool relu_ = false;
    FoldedNorm norm_;
    Buffer folded_w_, folded_b_;  // with norm_: the weights and bias forward uses
    bool folded_ready_ = false;   // folded_w_ and folded_b_ hold the fold of folded_epoch_'s weights
    uint64_t folded_epoch_ = 0;
    bool bf16_ = false;  // in bf16 (prepare_bf16)
    memory::desc in_md_;  // the input value's own (bf16 reads it through to_bf16_)
    memory::desc grad_dst_, grad_src_, diff_src_nhwc_;  // gradients: the output's, the input's, and as bf16 backward-data writes it
    Plain to_bf16_, dd_to_bf16_;
    dnnl::reorder from_nhwc_;  // bf16 backward-data's input gradient into the input's layout
    std::string kernels_;
    // Forward, backward-data and (with enough tiles per thread) backward-weights through Winograd;
    // backward-weights may use another tile size (WinogradConv::tile_for).
    bool winograd_on_ = false, winograd_bwd_on_ = false, winograd_bww_on_ = false, winograd_ready_ = false;  // ready: winograd_ holds the weights of winograd_epoch_ (evaluation)
    uint64_t winograd_epoch_ = 0;
    WinogradConv winograd_, winograd_bwd_, winograd_bww_;
    std::vector<Part> parts_;
    Int8Conv int8_;  // Op::compute s8: int8 inference
};

}  // namespace

std::unique_ptr<Op> make_conv(ParamStore& params, int in_channels, ConvSpec spec,
                              const std::string& name) {
    return std::make_unique<Conv2d>(params, in_channels, spec, name);
}

}  // namespace googlenet
