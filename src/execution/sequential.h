// The ops of a program in order, each on all the threads: the executor of every batch that
// runs neither split nor with its paths side by side, and of each copy of a split batch.
#pragma once
#include "execution/executor.h"
#include "execution/program.h"

namespace googlenet {

class SequentialExecutor : public Executor {
public:
    explicit SequentialExecutor(Program& program) : p_(program) {}
    const float* forward(const float* images) override { return forward(images, {}); }
    // The same, calling observe(v) with each op's output v once the op has run (and first with the images).
    const float* forward(const float* images, const std::function<void(const Value&)>& observe);
    float loss(const int* labels) override;
    void backward(const float* dlogits, const AfterOp& after_op) override;
    void set_profiling(bool on) override;
    std::vector<OpTime> op_times() const override;
    void describe(Execution& e) const override;

    // For the PathsExecutor, which runs the forward its own way and the rest through this.
    bool profiling() const { return profiling_; }
    OpTime& time_of(size_t op);  // op: its index in the program

private:
    Program& p_;
    bool profiling_ = false;
    std::vector<OpTime> times_;  // while profiling: per op, summed over the calls
};

}  // namespace googlenet
