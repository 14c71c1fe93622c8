// All trainable parameters of a network in one arena, with their gradients in a second one.
#pragma once
#include <string>
#include <vector>

#include "googlenet/tensor.h"

namespace googlenet {

struct Param {
    std::string name;           // as in PyTorch's state_dict, e.g. "2.0.p2_2.weight"
    std::vector<int64_t> dims;  // PyTorch's shape: conv OIHW, linear (out, in), bias (out)
    size_t offset = 0, size = 0;
    int fan_in = 0, fan_out = 0;  // as torch.nn.init computes them, for initialisation
    bool is_bias = false;
};

class ParamStore {
public:
    // Registers a parameter; the arena is laid out by allocate() once all are known.
    int add(std::string name, std::vector<int64_t> dims, int fan_in, int fan_out, bool is_bias);
    void allocate();
    bool allocated() const { return values_.size() == total_; }

    const std::vector<Param>& list() const { return params_; }
    const Param& param(int i) const { return params_[size_t(i)]; }
    int find(const std::string& name) const;  // -1 if absent
    size_t total() const { return total_; }
    float* value(int i) { return values_.data() + params_[size_t(i)].offset; }
    float* grad(int i) { return grads_.data() + params_[size_t(i)].offset; }
    const float* value(int i) const { return values_.data() + params_[size_t(i)].offset; }
    const float* grad(int i) const { return grads_.data() + params_[size_t(i)].offset; }
    Buffer& values() { return values_; }
    Buffer& grads() { return grads_; }
    const Buffer& values() const { return values_; }
    const Buffer& grads() const { return grads_; }

private:
    std::vector<Param> params_;
    size_t total_ = 0;
    Buffer values_, grads_;
};

}  // namespace googlenet
