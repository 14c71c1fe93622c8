// The plan by which evaluation runs paths side by side (Parallel::batch, net_branches.cpp).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "core/runtime.h"

namespace googlenet {

// One op's forward, or one part of its output channels, run by one thread.
struct BranchTask {
    Op* op;
    int part;       // -1: the whole op
    std::vector<int> after;  // tasks of the same stage, on other threads, to wait for
    int64_t order;  // the op's place in the net
    double cost;    // its time: first estimated from multiply-adds, then measured
};

struct BranchStage {
    std::vector<BranchTask> tasks;
    // Shares of the work that one thread runs in order (a path, or a part of a split op), into
    // tasks; spread over the threads by cost.
    std::vector<std::vector<int>> units;
    std::vector<std::vector<int>> lists;  // per thread, into tasks; one list: each op on all threads
};

struct BranchPlan {
    std::vector<BranchStage> stages;
    std::vector<std::pair<Op*, int>> split;  // ops run in parts, and how many
    std::set<const Op*> alone;  // ops that run on one thread beside others: primitives for one thread
    std::vector<std::unique_ptr<Runtime>> rts;  // per thread: its own stream and transient buffers
    // Per task (stages in turn): the run that last finished it. Runs count up, so no reset is needed.
    std::unique_ptr<std::atomic<uint64_t>[]> done;
    uint64_t run = 0;
    bool measured = false;  // whether the tasks' costs are measured times
};

}  // namespace googlenet
