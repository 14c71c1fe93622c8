#include "googlenet/params.h"

#include <algorithm>

namespace googlenet {

int ParamStore::add(std::string name, std::vector<int64_t> dims, int64_t fan_in, int64_t fan_out,
                    bool is_bias) {
    if (allocated() && total_ > 0) throw Error("parameter '" + name + "' added after allocation");
    if (find(name) >= 0) throw Error("parameter '" + name + "' is defined twice");
    Param p;
    p.name = std::move(name);
    p.dims = std::move(dims);
    p.size = 1;
    for (auto d : p.dims) {
        if (d < 0 || (d > 0 && int64_t(p.size) > kMaxParamSize / d))
            throw Error("parameter '" + p.name + "' would hold more than " + std::to_string(kMaxParamSize) +
                        " values: the layer is too large");
        p.size *= size_t(d);
    }
    // Each tensor starts on a 64-byte boundary, so oneDNN sees aligned weights.
    p.offset = (total_ + 15) / 16 * 16;
    p.fan_in = fan_in;
    p.fan_out = fan_out;
    p.is_bias = is_bias;
    total_ = p.offset + p.size;
    params_.push_back(std::move(p));
    return int(params_.size()) - 1;
}

int ParamStore::add_constant(std::string name, std::vector<int64_t> dims, float value) {
    const int i = add(std::move(name), std::move(dims), 0, 0, false);
    params_[size_t(i)].constant_init = true;
    params_[size_t(i)].init_value = value;
    return i;
}

int ParamStore::add_buffer(std::string name, std::vector<int64_t> dims, float value) {
    if (allocated() && total_ > 0) throw Error("buffer '" + name + "' added after allocation");
    if (find(name) >= 0 || find_buffer(name) >= 0) throw Error("buffer '" + name + "' is defined twice");
    Param p;
    p.name = std::move(name);
    p.dims = std::move(dims);
    p.size = 1;
    for (auto d : p.dims) p.size *= size_t(d);
    p.offset = buffers_total_;
    p.constant_init = true;
    p.init_value = value;
    buffers_total_ += p.size;
    buffers_list_.push_back(std::move(p));
    return int(buffers_list_.size()) - 1;
}

void ParamStore::allocate() {
    values_.resize(total_);
    grads_.resize(total_);
    buffers_.resize(buffers_total_);
    for (const Param& b : buffers_list_) std::fill(buffers_.data() + b.offset, buffers_.data() + b.offset + b.size, b.init_value);
    value_base_ = values_.data(), grad_base_ = grads_.data(), buffer_base_ = buffers_.data();
    allocated_ = true;
}

void ParamStore::share(ParamStore& from, bool grads) {
    if (!from.allocated()) throw Error("ParamStore::share: the store shared from has no arenas yet");
    if (from.total_ != total_ || from.buffers_total_ != buffers_total_ || from.params_.size() != params_.size())
        throw Error("ParamStore::share: the two stores hold different parameters");
    values_ = Buffer(), buffers_ = Buffer();
    grads_ = grads ? Buffer() : Buffer(total_);
    value_base_ = from.value_base_, buffer_base_ = from.buffer_base_;
    grad_base_ = grads ? from.grad_base_ : grads_.data();
    allocated_ = true;
}

int ParamStore::find_buffer(const std::string& name) const {
    for (size_t i = 0; i < buffers_list_.size(); ++i)
        if (buffers_list_[i].name == name) return int(i);
    return -1;
}

int ParamStore::find(const std::string& name) const {
    for (size_t i = 0; i < params_.size(); ++i)
        if (params_[i].name == name) return int(i);
    return -1;
}

}  // namespace googlenet
