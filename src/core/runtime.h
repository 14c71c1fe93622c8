// What ops need while they run: the oneDNN engine and stream, the parameters, and the rule by
// which gradients of a value read by several ops are summed.
#pragma once
#include <dnnl.hpp>

#include "googlenet/net.h"

namespace googlenet {

class Runtime {
public:
    explicit Runtime(ParamStore& p) : engine(dnnl::engine::kind::cpu, 0), stream(engine), params(p) {}

    // Where an op writes the gradient of its input `v`. The first consumer to run backward
    // overwrites v.grad (so no zeroing pass is needed); later ones write to scratch, and
    // grad_commit adds that in.
    float* grad_target(Value& v);
    void grad_commit(Value& v, const float* written);
    void resize_scratch(size_t n) { scratch_.resize(n); }

    dnnl::memory mem(const dnnl::memory::desc& md, const float* p) {
        return dnnl::memory(md, engine, const_cast<float*>(p));
    }

    dnnl::engine engine;
    dnnl::stream stream;
    ParamStore& params;

private:
    Buffer scratch_;
};

// dnnl::memory::desc for a dense NCHW activation.
inline dnnl::memory::desc nchw_desc(const Shape& s) {
    return dnnl::memory::desc({s.n, s.c, s.h, s.w}, dnnl::memory::data_type::f32,
                              dnnl::memory::format_tag::nchw);
}

}  // namespace googlenet
