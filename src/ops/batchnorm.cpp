// Batch normalisation (oneDNN), as PyTorch's BatchNorm2d: in training the batch's mean and
// (biased) variance normalise it and the running averages move by `momentum` (the variance's by
// its unbiased value, as PyTorch does); in evaluation the running averages normalise. The running
// averages and the batch counter are buffers: saved with the weights, never trained.
#include "core/runtime.h"
#include "ops/ops.h"

namespace googlenet {
namespace {

using dnnl::memory;
using flags = dnnl::normalization_flags;

class BatchNorm final : public Op {
public:
    BatchNorm(ParamStore& params, int channels, float eps, float momentum, const std::string& name)
        : channels_(channels), eps_(eps), momentum_(momentum) {
        scale_ = params.add_constant(name + ".weight", {channels}, 1.f);
        shift_ = params.add_constant(name + ".bias", {channels}, 0.f);
        running_mean_ = params.add_buffer(name + ".running_mean", {channels}, 0.f);
        running_var_ = params.add_buffer(name + ".running_var", {channels}, 1.f);
        batches_ = params.add_buffer(name + ".num_batches_tracked", {}, 0.f);
    }

    OpAttributes attributes() const override {
        OpAttributes a{OpAttributes::batch_norm};
        a.eps = eps_, a.momentum = momentum_, a.fused_relu = relu_;
        return a;
    }
    std::vector<int> buffer_indices() const override { return {running_mean_, running_var_, batches_}; }

    std::vector<int> param_indices() const override { return {scale_, shift_}; }

    // oneDNN's fuse_norm_relu: forward applies ReLU and keeps where it passed in a workspace,
    // from which backward masks the output's gradient itself.
    bool fuse_relu(bool on) override {
        relu_ = on;
        relu_mask = on ? ReluMask::own : ReluMask::none;
        return true;
    }
    bool applies_relu_mask() const override { return relu_; }

    void prepare(Runtime& rt) override {
        md_ = desc_of(*output);
        if (inputs[0]->layout != output->layout) throw Error("batch-norm: input and output layouts differ");
        stat_md_ = memory::desc({channels_}, memory::data_type::f32, memory::format_tag::a);
        const auto train_flags = flags::use_scale | flags::use_shift | (relu_ ? flags::fuse_norm_relu : flags::none);
        const auto eval_flags = train_flags | flags::use_global_stats;
        auto train_pd = dnnl::batch_normalization_forward::primitive_desc(
            rt.engine, dnnl::prop_kind::forward_training, md_, md_, eps_, train_flags);
        auto eval_pd = dnnl::batch_normalization_forward::primitive_desc(
            rt.engine, dnnl::prop_kind::forward_training, md_, md_, eps_, eval_flags);
        fwd_train_ = dnnl::batch_normalization_forward(train_pd);
        fwd_eval_ = dnnl::batch_normalization_forward(eval_pd);
        bwd_train_ = dnnl::batch_normalization_backward(dnnl::batch_normalization_backward::primitive_desc(
            rt.engine, dnnl::prop_kind::backward, md_, md_, md_, eps_, train_flags, train_pd));
        bwd_eval_ = dnnl::batch_normalization_backward(dnnl::batch_normalization_backward::primitive_desc(
            rt.engine, dnnl::prop_kind::backward, md_, md_, md_, eps_, eval_flags, eval_pd));
        mean_ = Buffer(size_t(channels_));
        var_ = Buffer(size_t(channels_));
        // A network with batch norm plans again between training and evaluation (Net::plans_by_mode):
        // the workspace of the mode planned for is all it needs.
        workspace_ = relu_ ? dnnl::memory((rt.state.training ? train_pd : eval_pd).workspace_desc(), rt.engine) : dnnl::memory();
    }

    void forward(Runtime& rt) override {
        training_ = rt.state.training;
        float* mean = training_ ? mean_.data() : rt.params.buffer(running_mean_);
        float* var = training_ ? var_.data() : rt.params.buffer(running_var_);
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, rt.mem(md_, inputs[0]->data.data())},
                                             {DNNL_ARG_DST, rt.mem(md_, output->data.data())},
                                             {DNNL_ARG_SCALE, rt.mem(stat_md_, rt.params.value(scale_))},
                                             {DNNL_ARG_SHIFT, rt.mem(stat_md_, rt.params.value(shift_))},
                                             {DNNL_ARG_MEAN, rt.mem(stat_md_, mean)},
                                             {DNNL_ARG_VARIANCE, rt.mem(stat_md_, var)}};
        if (relu_) args[DNNL_ARG_WORKSPACE] = workspace_;
        (training_ ? fwd_train_ : fwd_eval_).execute(rt.stream, args);
        if (!training_) return;
        rt.stream.wait();
        const Shape& s = inputs[0]->shape;
        const double n = double(s.n) * s.h * s.w;
        const float unbias = n > 1 ? float(n / (n - 1)) : 1.f;
        float* rm = rt.params.buffer(running_mean_);
        float* rv = rt.params.buffer(running_var_);
        for (int c = 0; c < channels_; ++c) {
            rm[c] = (1 - momentum_) * rm[c] + momentum_ * mean_.data()[c];
            rv[c] = (1 - momentum_) * rv[c] + momentum_ * var_.data()[c] * unbias;
        }
        *rt.params.buffer(batches_) += 1;
    }

    void backward(Runtime& rt) override {
        Value& in = *inputs[0];
        // oneDNN computes the input's gradient with the parameters' in one pass, so it always
        // runs; an input that needs none (the image) gets it written into scratch and dropped.
        float* target = rt.input_grad(0) ? rt.input_grad(0) : rt.scratch(in.data.size());
        float* mean = training_ ? mean_.data() : rt.params.buffer(running_mean_);
        float* var = training_ ? var_.data() : rt.params.buffer(running_var_);
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, rt.mem(md_, in.data.data())},
                                             {DNNL_ARG_DIFF_DST, rt.mem(md_, output->grad.data())},
                                             {DNNL_ARG_SCALE, rt.mem(stat_md_, rt.params.value(scale_))},
                                             {DNNL_ARG_MEAN, rt.mem(stat_md_, mean)},
                                             {DNNL_ARG_VARIANCE, rt.mem(stat_md_, var)},
                                             {DNNL_ARG_DIFF_SRC, rt.mem(md_, target)},
                                             {DNNL_ARG_DIFF_SCALE, rt.mem(stat_md_, rt.params.grad(scale_))},
                                             {DNNL_ARG_DIFF_SHIFT, rt.mem(stat_md_, rt.params.grad(shift_))}};
        if (relu_) args[DNNL_ARG_WORKSPACE] = workspace_;
        (training_ ? bwd_train_ : bwd_eval_).execute(rt.stream, args);
        rt.stream.wait();
    }

private:
    int channels_;
    float eps_, momentum_;
    int scale_, shift_, running_mean_, running_var_, batches_;
    bool training_ = true;
    bool relu_ = false;
    dnnl::memory workspace_;  // with relu_: where forward's ReLU passed, for backward
    memory::desc md_, stat_md_;
    Buffer mean_, var_;
    dnnl::batch_normalization_forward fwd_train_, fwd_eval_;
    dnnl::batch_normalization_backward bwd_train_, bwd_eval_;
};

}  // namespace

std::unique_ptr<Op> make_batch_norm(ParamStore& params, int channels, float eps, float momentum,
                                    const std::string& name) {
    return std::make_unique<BatchNorm>(params, channels, eps, momentum, name);
}

}  // namespace googlenet
