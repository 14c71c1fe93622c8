// Local response normalisation across channels (oneDNN), as the paper's network uses it after its
// first two stages. oneDNN's formula divides alpha by the window size, as PyTorch's does; the
// window is symmetric, so only odd sizes are accepted (Net::lrn).
#include "core/runtime.h"
#include "ops/ops.h"

namespace googlenet {
namespace {

class Lrn final : public Op {
public:
    Lrn(int size, float alpha, float beta, float k) : size_(size), alpha_(alpha), beta_(beta), k_(k) {}

    OpAttributes attributes() const override {
        OpAttributes a{OpAttributes::lrn};
        a.size = size_, a.alpha = alpha_, a.beta = beta_, a.k = k_;
        return a;
    }

    void prepare(Runtime& rt) override {
        md_ = desc_of(*output);
        if (inputs[0]->layout != output->layout) throw Error("lrn: input and output layouts differ");
        const auto alg = dnnl::algorithm::lrn_across_channels;
        auto fwd_pd = dnnl::lrn_forward::primitive_desc(rt.engine, dnnl::prop_kind::forward_training, alg, md_, md_,
                                                        dnnl::memory::dim(size_), alpha_, beta_, k_);
        fwd_ = dnnl::lrn_forward(fwd_pd);
        bwd_ = dnnl::lrn_backward(dnnl::lrn_backward::primitive_desc(rt.engine, alg, md_, md_, md_,
                                                                     dnnl::memory::dim(size_), alpha_, beta_, k_, fwd_pd));
        workspace_ = dnnl::memory(fwd_pd.workspace_desc(), rt.engine);
    }

    void forward(Runtime& rt) override {
        fwd_.execute(rt.stream, {{DNNL_ARG_SRC, rt.mem(md_, inputs[0]->data.data())},
                                 {DNNL_ARG_DST, rt.mem(md_, output->data.data())},
                                 {DNNL_ARG_WORKSPACE, workspace_}});
    }

    void backward(Runtime& rt) override {
        Value& in = *inputs[0];
        float* target = rt.input_grad(0);
        if (!target) return;
        bwd_.execute(rt.stream, {{DNNL_ARG_SRC, rt.mem(md_, in.data.data())},
                                 {DNNL_ARG_DIFF_DST, rt.mem(md_, output->grad.data())},
                                 {DNNL_ARG_DIFF_SRC, rt.mem(md_, target)},
                                 {DNNL_ARG_WORKSPACE, workspace_}});
        rt.stream.wait();
    }

private:
    int size_;
    float alpha_, beta_, k_;
    dnnl::memory::desc md_;
    dnnl::memory workspace_;
    dnnl::lrn_forward fwd_;
    dnnl::lrn_backward bwd_;
};

}  // namespace

std::unique_ptr<Op> make_lrn(int size, float alpha, float beta, float k) {
    return std::make_unique<Lrn>(size, alpha, beta, k);
}

}  // namespace googlenet
