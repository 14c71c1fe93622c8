#include "googlenet/params.h"

namespace googlenet {

int ParamStore::add(std::string name, std::vector<int64_t> dims, int fan_in, int fan_out,
                    bool is_bias) {
    if (allocated() && total_ > 0) throw Error("parameter '" + name + "' added after allocation");
    if (find(name) >= 0) throw Error("parameter '" + name + "' is defined twice");
    Param p;
    p.name = std::move(name);
    p.dims = std::move(dims);
    p.size = 1;
    for (auto d : p.dims) p.size *= size_t(d);
    // Each tensor starts on a 64-byte boundary, so oneDNN sees aligned weights.
    p.offset = (total_ + 15) / 16 * 16;
    p.fan_in = fan_in;
    p.fan_out = fan_out;
    p.is_bias = is_bias;
    total_ = p.offset + p.size;
    params_.push_back(std::move(p));
    return int(params_.size()) - 1;
}

void ParamStore::allocate() {
    values_.resize(total_);
    grads_.resize(total_);
}

int ParamStore::find(const std::string& name) const {
    for (size_t i = 0; i < params_.size(); ++i)
        if (params_[i].name == name) return int(i);
    return -1;
}

}  // namespace googlenet
