// Evaluation of small batches with the Inception paths side by side (Parallel::batch): the
// plan of which thread runs what, and the executor that runs it (paths.cpp says why).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "core/runtime.h"
#include "execution/sequential.h"

namespace googlenet {

// One op's forward, or one part of its output channels, run by one thread.
struct PathTask {
    Op* op;
    int part;       // -1: the whole op
    std::vector<int> after;  // tasks of the same stage, on other threads, to wait for
    int64_t order;  // the op's place in the net
    double cost;    // its time: first estimated from multiply-adds, then measured
};

struct PathStage {
    std::vector<PathTask> tasks;
    // Shares of the work that one thread runs in order (a path, or a part of a split op), into
    // tasks; spread over the threads by cost.
    std::vector<std::vector<int>> units;
    std::vector<std::vector<int>> lists;  // per thread, into tasks; one list: each op on all threads
};

struct PathPlan {
    std::vector<PathStage> stages;
    std::vector<std::pair<Op*, int>> split;  // ops run in parts, and how many
    std::set<const Op*> alone;  // ops that run on one thread beside others: primitives for one thread
    std::vector<std::unique_ptr<Runtime>> rts;  // per thread: its own stream and transient buffers
    // Per task (stages in turn): the run that last finished it. Runs count up, so no reset is needed.
    std::unique_ptr<std::atomic<uint64_t>[]> done;
    uint64_t run = 0;
    bool measured = false;  // whether the tasks' costs are measured times
};

// Runs the forward pass by a PathPlan; the loss and backward as the SequentialExecutor does
// (evaluation has no other use for them than tests' input gradients).
class PathsExecutor : public Executor {
public:
    // Plans the stages from the program's ops, before the memory plan: their times (stages())
    // decide which values may share memory.
    PathsExecutor(Program& program, SequentialExecutor& sequential, int threads);
    int threads() const { return int(plan_.rts.size()); }
    // Per op of the program, the stage it runs in: the time its values live by.
    const std::vector<int>& stages() const { return stage_of_op_; }
    // Whether the op runs on one thread beside others: its primitives are made for one thread.
    bool alone(const Op* op) const { return plan_.alone.count(op) > 0; }
    // Once the ops are prepared on the program's runtime: checks the memory plan and makes the
    // split ops' parts.
    void prepare();

    const float* forward(const float* images) override;
    float loss(const int* labels) override { return sequential_.loss(labels); }
    void backward(const float* dlogits, const AfterOp& after_op) override { sequential_.backward(dlogits, after_op); }
    void set_profiling(bool on) override { sequential_.set_profiling(on); }
    std::vector<OpTime> op_times() const override { return sequential_.op_times(); }
    void describe(Execution& e) const override {
        e.paths_side_by_side = true;
        sequential_.describe(e);
    }

private:
    void measure();

    Program& p_;
    SequentialExecutor& sequential_;
    PathPlan plan_;
    std::vector<int> stage_of_op_;
};

}  // namespace googlenet
