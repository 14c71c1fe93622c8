// Per-channel normalisation by constants, (x - mean[c]) / stddev[c]: the mean subtraction that
// Caffe-trained networks (the ONNX model zoo's GoogLeNet) expect on their input. It reads the
// image once, so it runs the reference loop on plain copies (ops/plain_op.h).
#include "ops/ops.h"
#include "ops/plain_op.h"

namespace googlenet {
namespace {

class Normalize final : public PlainNchwOp {
public:
    Normalize(std::vector<float> mean, std::vector<float> stddev) : mean_(std::move(mean)), stddev_(std::move(stddev)) {}

    OpAttributes attributes() const override {
        OpAttributes a{OpAttributes::normalize};
        a.mean = mean_, a.stddev = stddev_;
        return a;
    }

private:
    void forward_plain(float* y, const float* x, ref::Dims in) override {
        ref::normalize_forward(y, x, mean_.data(), stddev_.data(), in);
    }
    void backward_plain(float* dx, const float* dy, ref::Dims in) override {
        ref::normalize_backward(dx, dy, stddev_.data(), in);
    }

    std::vector<float> mean_, stddev_;
};

}  // namespace

std::unique_ptr<Op> make_normalize(std::vector<float> mean, std::vector<float> stddev) {
    return std::make_unique<Normalize>(std::move(mean), std::move(stddev));
}

}  // namespace googlenet
