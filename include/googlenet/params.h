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
    int64_t fan_in = 0, fan_out = 0;  // as torch.nn.init computes them, for initialisation
    bool is_bias = false;
    float init_value = 0;   // with constant_init: the value it starts from (batch norm's 1 and 0)
    bool constant_init = false;
};

class ParamStore {
public:
    // Registers a parameter; the arena is laid out by allocate() once all are known. A tensor of
    // more than kMaxParamSize values is an error naming it (a model file may ask for one).
    static constexpr int64_t kMaxParamSize = (int64_t(1) << 31) - 1;
    int add(std::string name, std::vector<int64_t> dims, int64_t fan_in, int64_t fan_out, bool is_bias);
    // A parameter that starts at a constant (batch norm's scale 1 and shift 0).
    int add_constant(std::string name, std::vector<int64_t> dims, float value);
    // A buffer: state that is saved with the weights but not trained (batch norm's running
    // statistics). Buffers live in their own arena, so the optimizer never touches them; they
    // hold `value` from allocate() on.
    int add_buffer(std::string name, std::vector<int64_t> dims, float value);
    void allocate();
    bool allocated() const { return allocated_; }
    // Makes this store (of the same parameters, registered in the same order) read and write
    // `from`'s values and buffers, and its gradients too if `grads`; otherwise it gets gradients
    // of its own. For copies of a network that run on parts of a batch (Parallel::batch).
    // values(), grads() and buffers() stay this store's own arenas, empty where shared.
    void share(ParamStore& from, bool grads);

    const std::vector<Param>& list() const { return params_; }
    const Param& param(int i) const { return params_[size_t(i)]; }
    int find(const std::string& name) const;  // -1 if absent
    size_t total() const { return total_; }
    float* value(int i) { return value_base_ + params_[size_t(i)].offset; }
    float* grad(int i) { return grad_base_ + params_[size_t(i)].offset; }
    const float* value(int i) const { return value_base_ + params_[size_t(i)].offset; }
    const float* grad(int i) const { return grad_base_ + params_[size_t(i)].offset; }
    float* grad_base() { return grad_base_; }  // all gradients, total() floats
    const std::vector<Param>& buffer_list() const { return buffers_list_; }
    float* buffer(int i) { return buffer_base_ + buffers_list_[size_t(i)].offset; }
    const float* buffer(int i) const { return buffer_base_ + buffers_list_[size_t(i)].offset; }
    int find_buffer(const std::string& name) const;  // -1 if absent
    Buffer& buffers() { return buffers_; }
    const Buffer& buffers() const { return buffers_; }
    Buffer& values() { return values_; }
    Buffer& grads() { return grads_; }
    const Buffer& values() const { return values_; }
    const Buffer& grads() const { return grads_; }

private:
    std::vector<Param> params_, buffers_list_;
    size_t total_ = 0, buffers_total_ = 0;
    Buffer values_, grads_, buffers_;
    bool allocated_ = false;
    float *value_base_ = nullptr, *grad_base_ = nullptr, *buffer_base_ = nullptr;  // own arenas, or shared ones
};

}  // namespace googlenet
