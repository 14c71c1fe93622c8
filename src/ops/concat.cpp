// Channel concatenation: oneDNN's concat primitive forward; backward, each input's gradient is a
// reorder out of its channel range of the output's gradient (a sub-memory view), so any layout
// works. In the blocked layout every input's range is whole channel blocks (Net::set_batch), and
// one pass copies each block with the ReLU mask applied on the way.
#include "core/runtime.h"
#include "ops/ops.h"

#include <cstring>
#include <vector>

namespace googlenet {
namespace {

class Concat final : public Op {
public:
    OpAttributes attributes() const override { return {OpAttributes::concat}; }
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
        // Where each input's channel blocks start in the output's (backward_blocked).
        const int L = channel_block();
        first_block_.assign(inputs.size(), 0);
        for (size_t i = 1; i < inputs.size(); ++i) first_block_[i] = first_block_[i - 1] + (inputs[i - 1]->shape.c + L - 1) / L;
        targets_.assign(inputs.size(), nullptr);
    }

    void forward(Runtime& rt) override {
        std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DST, rt.mem(dst_, output->data.data())}};
        for (size_t i = 0; i < inputs.size(); ++i)
            args[DNNL_ARG_MULTIPLE_SRC + int(i)] = rt.mem(srcs_[i], inputs[i]->data.data());
        fwd_.execute(rt.stream, args);
    }

    // Part i copies input i: in the blocked layout at batch 1 its channel blocks are one run in
    // the output.
    bool can_split_forward() const override { return all_blocked() && output->shape.n == 1; }
    void forward_part(Runtime& /*rt*/, int part) override {
        const Value& in = *inputs[size_t(part)];
        const size_t run = size_t(in.shape.h) * size_t(in.shape.w) * size_t(channel_block());
        std::memcpy(output->data.data() + size_t(first_block_[size_t(part)]) * run, in.data.data(), in.data.size() * sizeof(float));
    }

    // In the blocked layout one pass copies and masks (backward_blocked).
    bool applies_relu_mask() const override { return all_blocked(); }

    void backward(Runtime& rt) override {
        if (all_blocked()) return backward_blocked(rt);
        for (size_t i = 0; i < inputs.size(); ++i) {
            float* target = rt.input_grad(i);
            if (!target) continue;
            splits_[i].execute(rt.stream, {{DNNL_ARG_FROM, rt.mem(parts_[i], output->grad.data())},
                                           {DNNL_ARG_TO, rt.mem(srcs_[i], target)}});
        }
    }

private:
    // The network's input image keeps the caller's layout, so an input may not be blocked.
    bool all_blocked() const {
        if (output->layout != Layout::blocked) return false;
        for (const Value* in : inputs)
            if (in->layout != Layout::blocked) return false;
        return true;
    }

    // One pass instead of the mask's (read y and dy, write dy) and the reorders' (read dy, write
    // dx): each input's blocks are contiguous runs of h * w * L floats in both tensors. oneDNN's
    // generic (simple:any) reorders were slow here (docs/performance.md, "Figures behind the code's choices").
    void backward_blocked(const Runtime& rt) {
        const int L = channel_block();
        const Shape& out = output->shape;
        const size_t run = size_t(out.h) * size_t(out.w) * size_t(L);
        const int out_blocks = (out.c + L - 1) / L;
        for (size_t i = 0; i < inputs.size(); ++i) targets_[i] = rt.input_grad(i);
        const float* dy = output->grad.data();
        const float* y = relu_mask == ReluMask::own ? output->data.data() : nullptr;
#pragma omp parallel for collapse(2) schedule(static)
        for (int n = 0; n < out.n; ++n)
            for (int ob = 0; ob < out_blocks; ++ob) {
                size_t i = 0;
                while (i + 1 < inputs.size() && ob >= first_block_[i + 1]) ++i;
                if (!targets_[i]) continue;
                const int blocks = (inputs[i]->shape.c + L - 1) / L;
                const size_t from = (size_t(n) * size_t(out_blocks) + size_t(ob)) * run;
                float* dx = targets_[i] + (size_t(n) * size_t(blocks) + size_t(ob - first_block_[i])) * run;
                if (!y) {
                    std::memcpy(dx, dy + from, run * sizeof(float));
                    continue;
                }
#pragma omp simd
                for (size_t j = 0; j < run; ++j) dx[j] = y[from + j] > 0.f ? dy[from + j] : 0.f;
            }
    }

    dnnl::memory::desc dst_;
    std::vector<dnnl::memory::desc> srcs_, parts_;
    std::vector<int> first_block_;
    std::vector<float*> targets_;  // each input's gradient target in the running backward_blocked
    std::vector<dnnl::reorder> splits_;
    dnnl::concat fwd_;
};

}  // namespace

std::unique_ptr<Op> make_concat() { return std::make_unique<Concat>(); }

}  // namespace googlenet
