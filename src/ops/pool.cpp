// Max and average pooling (oneDNN). Max pooling keeps oneDNN's workspace of argmax positions
// for its backward; average pooling counts padded cells, as PyTorch's AvgPool2d does by default.
#include <algorithm>

#include "core/runtime.h"
#include "ops/ops.h"

namespace googlenet {
namespace {

class Pool final : public Op {
public:
    Pool(dnnl::algorithm alg, int kh, int kw, int stride, int pad, bool ceil_mode = false)
        : alg_(alg), kh_(kh), kw_(kw), stride_(stride), pad_(pad), ceil_mode_(ceil_mode) {}

    OpAttributes attributes() const override {
        OpAttributes a{alg_ == dnnl::algorithm::pooling_max ? OpAttributes::max_pool : OpAttributes::avg_pool};
        a.kernel_h = kh_, a.kernel_w = kw_, a.stride = stride_, a.pad = pad_, a.ceil_mode = ceil_mode_;
        return a;
    }

    // Max pooling's backward reads only the workspace (and its output, to apply a ReLU mask).
    std::vector<const Value*> saved_for_backward() const override {
        if (relu_mask == ReluMask::own) return {output};
        return {};
    }

    void prepare(Runtime& rt) override {
        src_ = desc_of(*inputs[0]);
        dst_ = desc_of(*output);
        // The right and bottom padding make up whatever the output size (ceil mode) needs beyond
        // the left and top padding; for max pooling padded cells never win.
        const Shape& in = inputs[0]->shape;
        const Shape& out = output->shape;
        auto right = [&](int in_size, int out_size, int k) {
            return ceil_mode_ ? std::max((out_size - 1) * stride_ + k - in_size - pad_, 0) : pad_;
        };
        const dnnl::memory::dims strides{stride_, stride_}, kernel{kh_, kw_}, dilation{0, 0}, pad_l{pad_, pad_},
            pad_r{right(in.h, out.h, kh_), right(in.w, out.w, kw_)};
        // Evaluation needs no argmax workspace: a primitive that writes none (its own pass, about
        // a fifth less memory traffic for a 3x3 max pool on bf16).
        fwd_inference_ = dnnl::pooling_forward(dnnl::pooling_forward::primitive_desc(
            rt.engine, dnnl::prop_kind::forward_inference, alg_, src_, dst_, strides, kernel, dilation, pad_l, pad_r));
        fwd_ = dnnl::pooling_forward(), bwd_ = dnnl::pooling_backward(), workspace_ = dnnl::memory();
        if (inputs[0]->type == DataType::u8) return;  // int8 codes: inference only, no backward
        auto fwd_pd = dnnl::pooling_forward::primitive_desc(
            rt.engine, dnnl::prop_kind::forward_training, alg_, src_, dst_, strides, kernel,
            dilation, pad_l, pad_r);
        fwd_ = dnnl::pooling_forward(fwd_pd);
        bwd_ = dnnl::pooling_backward(dnnl::pooling_backward::primitive_desc(
            rt.engine, alg_, src_, dst_, strides, kernel, dilation, pad_l, pad_r, fwd_pd));
        if (alg_ == dnnl::algorithm::pooling_max)
            workspace_ = dnnl::memory(fwd_pd.workspace_desc(), rt.engine);
    }

    void forward(Runtime& rt) override {
        std::unordered_map<int, dnnl::memory> args{
            {DNNL_ARG_SRC, rt.mem(src_, inputs[0]->data.data())},
            {DNNL_ARG_DST, rt.mem(dst_, output->data.data())}};
        if (!rt.state.training) return fwd_inference_.execute(rt.stream, args);
        if (workspace_) args[DNNL_ARG_WORKSPACE] = workspace_;
        fwd_.execute(rt.stream, args);
    }

    void backward(Runtime& rt) override {
        float* target = rt.input_grad(0);
        if (!target) return;
        std::unordered_map<int, dnnl::memory> args{
            {DNNL_ARG_DIFF_DST, rt.mem(dst_, output->grad.data())},
            {DNNL_ARG_DIFF_SRC, rt.mem(src_, target)}};
        if (workspace_) args[DNNL_ARG_WORKSPACE] = workspace_;
        bwd_.execute(rt.stream, args);
    }

private:
    dnnl::algorithm alg_;
    int kh_, kw_, stride_, pad_;
    bool ceil_mode_;
    dnnl::memory::desc src_, dst_;
    dnnl::memory workspace_;
    dnnl::pooling_forward fwd_, fwd_inference_;
    dnnl::pooling_backward bwd_;
};

}  // namespace

std::unique_ptr<Op> make_max_pool(int kernel, int stride, int pad, bool ceil_mode) {
    return std::make_unique<Pool>(dnnl::algorithm::pooling_max, kernel, kernel, stride, pad, ceil_mode);
}

std::unique_ptr<Op> make_avg_pool(int kernel_h, int kernel_w, int stride, int pad) {
    return std::make_unique<Pool>(dnnl::algorithm::pooling_avg_include_padding, kernel_h, kernel_w,
                                  stride, pad);
}

}  // namespace googlenet
