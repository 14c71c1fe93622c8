// Adaptive average pooling (torchvision's auxiliary heads pool 14x14 maps to 4x4). oneDNN has no
// adaptive pooling, and these windows overlap unevenly (rows 0-3, 3-6, 7-10, 10-13), so no single
// oneDNN pooling matches: the op runs the reference loop on plain NCHW copies, reordered by
// oneDNN from and to the layouts around it. It is small: it sees only the heads' inputs.
#include "core/runtime.h"
#include "googlenet/reference.h"
#include "ops/ops.h"

namespace googlenet {
namespace {

class AdaptiveAvgPool final : public Op {
public:
    AdaptiveAvgPool(int out_h, int out_w) : out_h_(out_h), out_w_(out_w) {}

    std::string describe() const override {
        return "adaptive-avg-pool to " + std::to_string(out_h_) + "x" + std::to_string(out_w_);
    }

    void prepare(Runtime& rt) override {
        src_ = desc_of(*inputs[0]);
        dst_ = desc_of(*output);
        src_plain_ = desc_of(inputs[0]->shape, Layout::nchw);
        dst_plain_ = desc_of(output->shape, Layout::nchw);
        x_ = Buffer(inputs[0]->shape.numel());
        y_ = Buffer(output->shape.numel());
        to_plain_ = dnnl::reorder(rt.mem(src_, x_.data()), rt.mem(src_plain_, x_.data()));
        from_plain_ = dnnl::reorder(rt.mem(dst_plain_, y_.data()), rt.mem(dst_, y_.data()));
        dy_to_plain_ = dnnl::reorder(rt.mem(dst_, y_.data()), rt.mem(dst_plain_, y_.data()));
        dx_from_plain_ = dnnl::reorder(rt.mem(src_plain_, x_.data()), rt.mem(src_, x_.data()));
    }

    void forward(Runtime& rt) override {
        move(to_plain_, rt, rt.mem(src_, inputs[0]->data.data()), rt.mem(src_plain_, x_.data()));
        rt.stream.wait();
        const Shape& in = inputs[0]->shape;
        ref::adaptive_avg_pool_forward(y_.data(), x_.data(), ref::Dims{in.n, in.c, in.h, in.w}, out_h_, out_w_);
        move(from_plain_, rt, rt.mem(dst_plain_, y_.data()), rt.mem(dst_, output->data.data()));
    }

    void backward(Runtime& rt) override {
        Value& in = *inputs[0];
        if (!in.needs_grad) return;
        move(dy_to_plain_, rt, rt.mem(dst_, output->grad.data()), rt.mem(dst_plain_, y_.data()));
        rt.stream.wait();
        const Shape& s = in.shape;
        ref::adaptive_avg_pool_backward(x_.data(), y_.data(), ref::Dims{s.n, s.c, s.h, s.w}, out_h_, out_w_);
        float* target = rt.grad_target(in);
        move(dx_from_plain_, rt, rt.mem(src_plain_, x_.data()), rt.mem(src_, target));
        rt.stream.wait();
        rt.grad_commit(in, target);
    }

private:
    static void move(const dnnl::reorder& r, Runtime& rt, dnnl::memory from, dnnl::memory to) {
        r.execute(rt.stream, from, to);
    }

    int out_h_, out_w_;
    dnnl::memory::desc src_, dst_, src_plain_, dst_plain_;
    Buffer x_, y_;  // plain copies: input (or its gradient) and output (or its gradient)
    dnnl::reorder to_plain_, from_plain_, dy_to_plain_, dx_from_plain_;
};

}  // namespace

std::unique_ptr<Op> make_adaptive_avg_pool(int out_h, int out_w) {
    return std::make_unique<AdaptiveAvgPool>(out_h, out_w);
}

}  // namespace googlenet
