// A batch split over the threads (Parallel::batch): one copy of the network per thread, each on
// its share of the images, sharing the weights (batch_split.cpp says why).
#pragma once
#include <memory>
#include <vector>

#include "execution/executor.h"
#include "execution/split_share.h"

namespace googlenet {

class Net;

class BatchSplit : public Executor {
public:
    // One copy of `whole` (same graph, its parameters shared) per thread.
    BatchSplit(Net& whole, int threads);
    ~BatchSplit() override;
    int copies() const { return int(copies_.size()); }
    // Cuts a batch of n into the copies' shares and plans each copy for its own.
    void set_batch(int n);

    const float* forward(const float* images) override;
    float loss(const int* labels) override;
    void backward(const float* dlogits, const AfterOp& after_op) override;
    void set_profiling(bool on) override;
    // The first copy's ops with the copies' mean times.
    std::vector<OpTime> op_times() const override;
    void describe(Execution& e) const override;

private:
    Net& whole_;
    std::vector<std::unique_ptr<Net>> copies_;
    SplitShare share_;
    std::vector<int> first_;     // each copy's first image of the batch, and the batch size last
    std::vector<float> logits_;  // the whole batch's, gathered from the copies
};

}  // namespace googlenet
