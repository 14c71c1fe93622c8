// Adaptive average pooling (torchvision's auxiliary heads pool 14x14 maps to 4x4). oneDNN has no
// adaptive pooling, and these windows overlap unevenly (rows 0-3, 3-6, 7-10, 10-13), so no single
// oneDNN pooling matches: the op runs the reference loop on plain NCHW copies. It is small: it
// sees only the heads' inputs.
#include "ops/ops.h"
#include "ops/plain_op.h"

namespace googlenet {
namespace {

class AdaptiveAvgPool final : public PlainNchwOp {
public:
    AdaptiveAvgPool(int out_h, int out_w) : out_h_(out_h), out_w_(out_w) {}

    OpAttributes attributes() const override {
        OpAttributes a{OpAttributes::adaptive_avg_pool};
        a.out_h = out_h_, a.out_w = out_w_;
        return a;
    }

private:
    void forward_plain(float* y, const float* x, ref::Dims in) override {
        ref::adaptive_avg_pool_forward(y, x, in, out_h_, out_w_);
    }
    void backward_plain(float* dx, const float* dy, ref::Dims in) override {
        ref::adaptive_avg_pool_backward(dx, dy, in, out_h_, out_w_);
    }

    int out_h_, out_w_;
};

}  // namespace

std::unique_ptr<Op> make_adaptive_avg_pool(int out_h, int out_w) {
    return std::make_unique<AdaptiveAvgPool>(out_h, out_w);
}

}  // namespace googlenet
