// The ops a Net is built from. Each is backed by oneDNN where oneDNN has the primitive; a plain
// version of each lives in include/googlenet/reference.h and is the tests' oracle.
#pragma once
#include <memory>
#include <string>

#include "googlenet/op.h"
#include "googlenet/params.h"

namespace googlenet {

// The op that computes `node` on inputs whose first has the shape `in` (one image), its
// parameters added to `params`. `salt` tells dropout layers apart (the node's index).
std::unique_ptr<Op> make_op(const Node& node, const Shape& in, ParamStore& params, uint64_t salt);

std::unique_ptr<Op> make_conv(ParamStore& params, int in_channels, ConvSpec spec,
                              const std::string& name);
std::unique_ptr<Op> make_relu();
// ceil_mode: PyTorch's, the output rounds up (extra right/bottom padding that never wins).
std::unique_ptr<Op> make_max_pool(int kernel, int stride, int pad, bool ceil_mode = false);
std::unique_ptr<Op> make_batch_norm(ParamStore& params, int channels, float eps, float momentum,
                                    const std::string& name);
std::unique_ptr<Op> make_adaptive_avg_pool(int out_h, int out_w);
std::unique_ptr<Op> make_lrn(int size, float alpha, float beta, float k);
std::unique_ptr<Op> make_dropout(float p, uint64_t salt);
std::unique_ptr<Op> make_avg_pool(int kernel_h, int kernel_w, int stride, int pad);
std::unique_ptr<Op> make_concat();
std::unique_ptr<Op> make_normalize(std::vector<float> mean, std::vector<float> stddev);
std::unique_ptr<Op> make_linear(ParamStore& params, int in_features, int out_features,
                                const std::string& name);

// Mean softmax cross-entropy over a batch of logits (n x k); writes its gradient to dlogits.
// Throws googlenet::Error for a label outside [0, k).
float softmax_cross_entropy(const float* logits, const int* labels, int n, int k, float* dlogits);

}  // namespace googlenet
