// Channel concatenation: oneDNN's concat primitive forward; backward, each input's gradient is a
// reorder out of its channel range of the output's gradient (a sub-memory view), so any layout
// works, including blocked ones.
#include "core/runtime.h"
#include "ops/ops.h"
#include "ops/relu_mask.h"

namespace googlenet {
namespace {

class Concat final : public Op {
public:
    OpAttributes attributes() const override { return {OpAttributes::concat}; }
    std::string describe() const override { return "concat x" + std::to_string(inputs.size()); }
    bool slices_channels() const override { return true; }
    bool keeps_relu_zeros() const override { return true; }
    std::vector<const Value*> saved_for_backward() const override {
        if (relu_mask == ReluMask::own) return {output};
        return {};
    }

    void prepare(Runtime& rt) override {
        dst_ = desc_of(*output);
        srcs_.clear();
        splits_.clear();
        parts_.clear();
        int offset = 0;
        for (const Value* in : inputs) {
            srcs_.push_back(desc_of(*in));
            const Shape& s = in->shape;
            const dnnl::memory::desc part = dst_.submemory_desc({s.n, s.c, s.h, s.w}, {0, offset, 0, 0});
            parts_.push_back(part);
            splits_.emplace_back(dnnl::reorder::primitive_desc(rt.engine, part, rt.engine, srcs_.back()));
            offset += s.c;
        }
        fwd_ = dnnl::concat(dnnl::concat::primitive_desc(rt.engine, dst_, 1, srcs_));
        if (relu_mask == ReluMask::own) relu_mask_.prepare(rt, dst_);
    }

    void forward(Runtime& rt) override {
        std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DST, rt.mem(dst_, output->data.data())}};
        for (size_t i = 0; i < inputs.size(); ++i)
            args[DNNL_ARG_MULTIPLE_SRC + int(i)] = rt.mem(srcs_[i], inputs[i]->data.data());
        fwd_.execute(rt.stream, args);
    }

    void backward(Runtime& rt) override {
        if (relu_mask == ReluMask::own) relu_mask_.apply(rt, *output);
        for (size_t i = 0; i < inputs.size(); ++i) {
            Value& in = *inputs[i];
            if (!in.needs_grad) continue;
            float* target = rt.grad_target(in);
            splits_[i].execute(rt.stream, {{DNNL_ARG_FROM, rt.mem(parts_[i], output->grad.data())},
                                           {DNNL_ARG_TO, rt.mem(srcs_[i], target)}});
            rt.stream.wait();
            rt.grad_commit(in, target);
        }
    }

private:
    dnnl::memory::desc dst_;
    std::vector<dnnl::memory::desc> srcs_, parts_;
    std::vector<dnnl::reorder> splits_;
    dnnl::concat fwd_;
    ReluMaskBackward relu_mask_;
};

}  // namespace

std::unique_ptr<Op> make_concat() { return std::make_unique<Concat>(); }

}  // namespace googlenet
