#include "ops/plain_op.h"

namespace googlenet {
namespace {

void move(const dnnl::reorder& r, Runtime& rt, dnnl::memory from, dnnl::memory to) { r.execute(rt.stream, from, to); }

}  // namespace

void PlainNchwOp::prepare(Runtime& rt) {
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

void PlainNchwOp::forward(Runtime& rt) {
    move(to_plain_, rt, rt.mem(src_, inputs[0]->data.data()), rt.mem(src_plain_, x_.data()));
    rt.stream.wait();
    const Shape& in = inputs[0]->shape;
    const size_t x_image = in.per_image(), y_image = output->shape.per_image();
    // The images are independent: one each per thread (the loops are the reference's, serial).
#pragma omp parallel for schedule(static)
    for (int n = 0; n < in.n; ++n)
        forward_plain(y_.data() + size_t(n) * y_image, x_.data() + size_t(n) * x_image, ref::Dims{1, in.c, in.h, in.w});
    move(from_plain_, rt, rt.mem(dst_plain_, y_.data()), rt.mem(dst_, output->data.data()));
}

void PlainNchwOp::backward(Runtime& rt) {
    float* target = rt.input_grad(0);
    if (!target) return;
    const Value& in = *inputs[0];
    move(dy_to_plain_, rt, rt.mem(dst_, output->grad.data()), rt.mem(dst_plain_, y_.data()));
    rt.stream.wait();
    const Shape& s = in.shape;
    const size_t x_image = s.per_image(), y_image = output->shape.per_image();
#pragma omp parallel for schedule(static)
    for (int n = 0; n < s.n; ++n)
        backward_plain(x_.data() + size_t(n) * x_image, y_.data() + size_t(n) * y_image, ref::Dims{1, s.c, s.h, s.w});
    move(dx_from_plain_, rt, rt.mem(src_plain_, x_.data()), rt.mem(src_, target));
}

}  // namespace googlenet
