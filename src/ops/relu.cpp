// ReLU: oneDNN eltwise forward, and a backward that needs only the output (dst > 0).
#include "core/runtime.h"
#include "ops/ops.h"

namespace googlenet {
namespace {

class Relu final : public Op {
public:
    OpAttributes attributes() const override { return {OpAttributes::relu}; }
    std::vector<const Value*> saved_for_backward() const override { return {output}; }

    void prepare(Runtime& rt) override {
        md_ = desc_of(*output);  // a ReLU keeps its input's layout
        if (inputs[0]->layout != output->layout) throw Error("relu: input and output layouts differ");
        const auto alg = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
        auto fwd_pd = dnnl::eltwise_forward::primitive_desc(
            rt.engine, dnnl::prop_kind::forward_training, alg, md_, md_, 0.f, 0.f);
        fwd_ = dnnl::eltwise_forward(fwd_pd);
        bwd_ = dnnl::eltwise_backward(
            dnnl::eltwise_backward::primitive_desc(rt.engine, alg, md_, md_, md_, 0.f, 0.f, fwd_pd));
    }

    void forward(Runtime& rt) override {
        fwd_.execute(rt.stream, {{DNNL_ARG_SRC, rt.mem(md_, inputs[0]->data.data())},
                                 {DNNL_ARG_DST, rt.mem(md_, output->data.data())}});
    }

    void backward(Runtime& rt) override {
        float* target = rt.input_grad(0);
        if (!target) return;
        bwd_.execute(rt.stream, {{DNNL_ARG_DST, rt.mem(md_, output->data.data())},
                                 {DNNL_ARG_DIFF_DST, rt.mem(md_, output->grad.data())},
                                 {DNNL_ARG_DIFF_SRC, rt.mem(md_, target)}});
        rt.stream.wait();
    }

private:
    dnnl::memory::desc md_;
    dnnl::eltwise_forward fwd_;
    dnnl::eltwise_backward bwd_;
};

}  // namespace

std::unique_ptr<Op> make_relu() { return std::make_unique<Relu>(); }

}  // namespace googlenet
