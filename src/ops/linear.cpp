// Fully connected layer (oneDNN inner product). It reads its N x C x H x W input as N x (C*H*W),
// in PyTorch's Flatten order whatever the input's layout, so flatten costs nothing and is no
// separate op.
#include "core/runtime.h"
#include "ops/ops.h"
#include "ops/primitive_layouts.h"

namespace googlenet {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

class Linear final : public Op {
public:
    Linear(ParamStore& params, int in_features, int out_features, const std::string& name)
        : in_(in_features), out_(out_features) {
        weight_ = params.add(name + ".weight", {out_, in_}, in_, out_, false);
        bias_ = params.add(name + ".bias", {out_}, in_, out_, true);
    }

    OpAttributes attributes() const override {
        OpAttributes a{OpAttributes::linear};
        a.out_channels = out_;
        return a;
    }

    int64_t macs_per_image() const override { return int64_t(in_) * out_; }
    std::vector<int> param_indices() const override { return {weight_, bias_}; }
    std::vector<const Value*> saved_for_backward() const override { return {inputs[0]}; }  // for the weights' gradient

    void prepare(Runtime& rt) override {
        const int n = output->shape.n;
        const Shape& s = inputs[0]->shape;
        plain_ = Plain{}, plain_grad_ = memory(), to_input_layout_ = dnnl::reorder();
        if (s.h * s.w > 1) {
            // A map with spatial extent (torchvision's heads: 128 x 4 x 4) may be in a blocked
            // layout, where memory order is not Flatten's. oneDNN reads it as 4-D, with the weights
            // as O x C x H x W, the very memory of PyTorch's out x (C*H*W); but beside a blocked
            // map and OIHW weights it has only its reference kernel (the heads' linear layers took
            // most of a training step), and a blocked layout for the weights would cost a reorder
            // of all of them every step. So the map, far smaller, is copied into NCHW, and the
            // gradient for it back into its layout.
            in_md_ = desc_of(*inputs[0]);
            src_ = desc_of(s, Layout::nchw);
            plain_ = Plain(rt, in_md_, src_);
            if (in_md_ != src_ && inputs[0]->needs_grad) {
                plain_grad_ = memory(src_, rt.engine);
                to_input_layout_ = dnnl::reorder(dnnl::reorder::primitive_desc(rt.engine, src_, rt.engine, in_md_));
            }
            wei_ = memory::desc({out_, s.c, s.h, s.w}, memory::data_type::f32, tag::oihw);
        } else {
            src_ = in_md_ = memory::desc({n, in_}, memory::data_type::f32, tag::nc);
            wei_ = memory::desc({out_, in_}, memory::data_type::f32, tag::oi);
        }
        dst_ = memory::desc({n, out_}, memory::data_type::f32, tag::nc);
        bias_md_ = memory::desc({out_}, memory::data_type::f32, tag::a);
        auto fwd_pd = dnnl::inner_product_forward::primitive_desc(
            rt.engine, dnnl::prop_kind::forward_training, src_, wei_, bias_md_, dst_);
        fwd_ = dnnl::inner_product_forward(fwd_pd);
        auto bww_pd = dnnl::inner_product_backward_weights::primitive_desc(rt.engine, src_, wei_, bias_md_, dst_, fwd_pd);
        bwd_weights_ = dnnl::inner_product_backward_weights(bww_pd);
        std::string data_kernel = "-";
        if (inputs[0]->needs_grad) {
            auto bwd_pd = dnnl::inner_product_backward_data::primitive_desc(rt.engine, src_, wei_, dst_, fwd_pd);
            bwd_data_ = dnnl::inner_product_backward_data(bwd_pd);
            data_kernel = bwd_pd.impl_info_str();
        }
        const std::string copy = in_md_ != src_ ? "nchw " : "";
        kernels_ = copy + fwd_pd.impl_info_str() + " | " + copy + data_kernel + " | " + copy + bww_pd.impl_info_str();
    }
    std::string kernels() const override { return kernels_; }

    // The input as the primitives read it: the op's own NCHW copy of a blocked map (made in
    // forward, read again by backward-weights), else the input itself.
    dnnl::memory source(Runtime& rt, bool copy) {
        const dnnl::memory in = rt.mem(in_md_, inputs[0]->data.data());
        return copy ? plain_.of(rt, in) : plain_.last(in);
    }

    void forward(Runtime& rt) override {
        fwd_.execute(rt.stream, {{DNNL_ARG_SRC, source(rt, true)},
                                 {DNNL_ARG_WEIGHTS, rt.mem(wei_, rt.params.value(weight_))},
                                 {DNNL_ARG_BIAS, rt.mem(bias_md_, rt.params.value(bias_))},
                                 {DNNL_ARG_DST, rt.mem(dst_, output->data.data())}});
    }

    void backward(Runtime& rt) override {
        auto diff_dst = rt.mem(dst_, output->grad.data());
        {
            WeightsTime weights_time(rt);
            bwd_weights_.execute(rt.stream,
                                 {{DNNL_ARG_SRC, source(rt, false)},
                                  {DNNL_ARG_DIFF_DST, diff_dst},
                                  {DNNL_ARG_DIFF_WEIGHTS, rt.mem(wei_, rt.params.grad(weight_))},
                                  {DNNL_ARG_DIFF_BIAS, rt.mem(bias_md_, rt.params.grad(bias_))}});
        }
        float* target = rt.input_grad(0);
        if (!target) return;
        const dnnl::memory diff_src = plain_grad_ ? plain_grad_ : rt.mem(in_md_, target);
        bwd_data_.execute(rt.stream, {{DNNL_ARG_DIFF_DST, diff_dst},
                                      {DNNL_ARG_WEIGHTS, rt.mem(wei_, rt.params.value(weight_))},
                                      {DNNL_ARG_DIFF_SRC, diff_src}});
        if (plain_grad_)
            to_input_layout_.execute(rt.stream, {{DNNL_ARG_FROM, plain_grad_}, {DNNL_ARG_TO, rt.mem(in_md_, target)}});
        rt.stream.wait();
    }

private:
    int in_, out_;
    int weight_, bias_;
    memory::desc in_md_, src_, dst_, wei_, bias_md_;  // in_md_: the input's own layout; src_: as the primitives read it
    Plain plain_;
    dnnl::memory plain_grad_;  // the input's gradient in NCHW, before it goes into the input's layout
    dnnl::reorder to_input_layout_;
    std::string kernels_;
    dnnl::inner_product_forward fwd_;
    dnnl::inner_product_backward_data bwd_data_;
    dnnl::inner_product_backward_weights bwd_weights_;
};

}  // namespace

std::unique_ptr<Op> make_linear(ParamStore& params, int in_features, int out_features,
                                const std::string& name) {
    return std::make_unique<Linear>(params, in_features, out_features, name);
}

}  // namespace googlenet
