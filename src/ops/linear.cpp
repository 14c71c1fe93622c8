// Fully connected layer (oneDNN inner product). It reads its N x C x H x W input as N x (C*H*W),
// in PyTorch's Flatten order whatever the input's layout, so flatten costs nothing and is no
// separate op.
#include "core/runtime.h"
#include "ops/ops.h"

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

    OpAttributes attributes() const override { return {OpAttributes::linear}; }
    std::string describe() const override {
        return "linear " + std::to_string(in_) + "->" + std::to_string(out_);
    }

    int64_t macs_per_image() const override { return int64_t(in_) * out_; }
    std::vector<int> param_indices() const override { return {weight_, bias_}; }
    std::vector<const Value*> saved_for_backward() const override { return {inputs[0]}; }  // for the weights' gradient

    void prepare(Runtime& rt) override {
        const int n = output->shape.n;
        const Shape& s = inputs[0]->shape;
        if (s.h * s.w > 1) {
            // A map with spatial extent (torchvision's heads: 128 x 4 x 4) may be in a blocked
            // layout, where memory order is not Flatten's: let oneDNN read it as 4-D, with the
            // weights as O x C x H x W, which is the very memory of PyTorch's out x (C*H*W).
            src_ = desc_of(*inputs[0]);
            wei_ = memory::desc({out_, s.c, s.h, s.w}, memory::data_type::f32, tag::oihw);
        } else {
            src_ = memory::desc({n, in_}, memory::data_type::f32, tag::nc);
            wei_ = memory::desc({out_, in_}, memory::data_type::f32, tag::oi);
        }
        dst_ = memory::desc({n, out_}, memory::data_type::f32, tag::nc);
        bias_md_ = memory::desc({out_}, memory::data_type::f32, tag::a);
        auto fwd_pd = dnnl::inner_product_forward::primitive_desc(
            rt.engine, dnnl::prop_kind::forward_training, src_, wei_, bias_md_, dst_);
        fwd_ = dnnl::inner_product_forward(fwd_pd);
        bwd_weights_ = dnnl::inner_product_backward_weights(
            dnnl::inner_product_backward_weights::primitive_desc(rt.engine, src_, wei_, bias_md_,
                                                                 dst_, fwd_pd));
        if (inputs[0]->needs_grad)
            bwd_data_ = dnnl::inner_product_backward_data(
                dnnl::inner_product_backward_data::primitive_desc(rt.engine, src_, wei_, dst_,
                                                                  fwd_pd));
    }

    void forward(Runtime& rt) override {
        fwd_.execute(rt.stream, {{DNNL_ARG_SRC, rt.mem(src_, inputs[0]->data.data())},
                                 {DNNL_ARG_WEIGHTS, rt.mem(wei_, rt.params.value(weight_))},
                                 {DNNL_ARG_BIAS, rt.mem(bias_md_, rt.params.value(bias_))},
                                 {DNNL_ARG_DST, rt.mem(dst_, output->data.data())}});
    }

    void backward(Runtime& rt) override {
        auto diff_dst = rt.mem(dst_, output->grad.data());
        {
            WeightsTime weights_time(rt);
            bwd_weights_.execute(rt.stream,
                                 {{DNNL_ARG_SRC, rt.mem(src_, inputs[0]->data.data())},
                                  {DNNL_ARG_DIFF_DST, diff_dst},
                                  {DNNL_ARG_DIFF_WEIGHTS, rt.mem(wei_, rt.params.grad(weight_))},
                                  {DNNL_ARG_DIFF_BIAS, rt.mem(bias_md_, rt.params.grad(bias_))}});
        }
        Value& in = *inputs[0];
        if (!in.needs_grad) return;
        float* target = rt.grad_target(in);
        bwd_data_.execute(rt.stream, {{DNNL_ARG_DIFF_DST, diff_dst},
                                      {DNNL_ARG_WEIGHTS, rt.mem(wei_, rt.params.value(weight_))},
                                      {DNNL_ARG_DIFF_SRC, rt.mem(src_, target)}});
        rt.stream.wait();
        rt.grad_commit(in, target);
    }

private:
    int in_, out_;
    int weight_, bias_;
    memory::desc src_, dst_, wei_, bias_md_;
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
