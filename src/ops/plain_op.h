// Base of ops that oneDNN has no primitive for: they compute on plain NCHW copies of their input
// and output (reordered in and out), with the loops of include/googlenet/reference.h. Only for
// small or rare layers, where the two reorders cost little.
#pragma once
#include "core/runtime.h"
#include "googlenet/reference.h"

namespace googlenet {

class PlainNchwOp : public Op {
public:
    void prepare(Runtime& rt) override;
    void forward(Runtime& rt) override;
    void backward(Runtime& rt) override;

protected:
    // y from x (forward), or dx from dy (backward), all plain NCHW; `in` is the input's shape.
    // Called for one image at a time (in.n == 1), the images on all threads at once.
    virtual void forward_plain(float* y, const float* x, ref::Dims in) = 0;
    virtual void backward_plain(float* dx, const float* dy, ref::Dims in) = 0;

private:
    dnnl::memory::desc src_, dst_, src_plain_, dst_plain_;
    Buffer x_, y_;  // plain copies: input (or its gradient) and output (or its gradient)
    dnnl::reorder to_plain_, from_plain_, dy_to_plain_, dx_from_plain_;
};

}  // namespace googlenet
