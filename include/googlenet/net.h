// A network that runs: the ops of a Graph (graph.h) over values that hold data, with one
// parameter arena.
//
// A Net makes one op per node of its graph, in the graph's topological order. The first
// set_batch() fuses each ReLU into the convolution before it; set_batch() sizes every activation
// and gradient and creates the oneDNN primitives once per batch size; forward() runs the ops in
// order; backward() runs them in reverse. A value read by several ops (the Inception block's
// input feeds four paths) receives the sum of their gradients.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "googlenet/execution.h"
#include "googlenet/graph.h"
#include "googlenet/op.h"
#include "googlenet/options.h"
#include "googlenet/params.h"
#include "googlenet/quantize.h"
#include "googlenet/tensor.h"

namespace googlenet {

struct Program;
struct RunState;
class Executor;
class SequentialExecutor;
class PathsExecutor;
class BatchSplit;

class Net {
public:
    // The ops of `graph`, with its parameters (allocated at the first set_batch).
    explicit Net(Graph graph);
    ~Net();
    Net(Net&&) noexcept;
    Net& operator=(Net&&) noexcept;

    const Graph& graph() const { return graph_; }  // as built, before fusion
    ValueId input() const { return 0; }
    using Auxiliary = Graph::Auxiliary;
    const std::vector<Auxiliary>& auxiliaries() const { return graph_.auxiliaries(); }
    // Its layers, summary and multiply-adds: googlenet/summary.h.
    ValueId output() const;

    const Value& value(ValueId id) const;
    int value_count() const;
    Value& value(ValueId id);
    // The ops that run: before the first set_batch one per graph node; after it, as planned for
    // training or evaluation (ReLUs fused into convolutions; in evaluation, batch norms folded).
    const std::vector<Op*>& ops() const;
    ParamStore& params() { return params_; }
    const ParamStore& params() const { return params_; }
    Shape input_shape() const { return value(0).shape; }
    int classes() const { return value(output()).shape.c; }

    // Running. The engine's options (options.h) take effect at the next set_batch or forward;
    // options() gives them with Precision::automatic resolved for this CPU.
    // Threads: OpenMP's count (omp_set_num_threads; 0 leaves OpenMP's own), lowered to
    // OMP_THREAD_LIMIT where above it.
    void set_options(const Options& options);
    const Options& options() const { return options_; }
    // Training (the default) or evaluation: only dropout behaves differently. Dropout's masks are
    // drawn from (seed, step): the trainer passes its step so a resumed run draws the same ones.
    void set_training(bool training);
    bool training() const;
    // In evaluation, convolutions keep their weights in their own layout between forward passes.
    // Code that changes the weights while in evaluation, other than through load_weights (which
    // calls this) or set_training, must call weights_changed() before the next forward.
    void weights_changed();
    void set_random(uint64_t seed, uint64_t step);
    void set_batch(int n);
    int batch() const { return batch_; }
    // Parallel::batch is data parallelism over the threads (off by default): a batch of
    // at least kSplitMinImages per thread is cut into one share per thread, and each thread runs
    // its own copy of the network (same weights, its own activations and gradients) on its share
    // with no other thread in its ops; backward sums the copies' weight gradients. Results equal
    // the whole batch's up to float rounding. Not for networks with batch norm (its statistics
    // would be the shares', not the batch's) nor with require_input_grad; those and smaller
    // batches run every op on all threads. Intermediate values (value()) are then not the
    // batch's: forward's logits and the parameters' gradients are.
    // In evaluation, a batch too small to split runs the Inception paths side by side instead:
    // between two ops that everything before and after goes through (a block's input and its
    // concatenation), the independent paths go to different threads, each op on one thread, and
    // the threads meet once at the end. Every op spread over all threads would hand its output
    // to the other core's cache: at batch 1 that made the latency swing with the machine's state
    // (docs/performance.md).
    // Each way runs on its executor (src/execution/executor.h).
    static constexpr int kSplitMinImages = 8;
    // How the current batch runs, and the memory it holds (execution.h).
    Execution execution() const;
    const float* forward(const float* images);  // images: batch x C x H x W; returns logits
    // Mean softmax cross-entropy of the last forward's logits; also sets the logits' gradient.
    // In training, plus each auxiliary classifier's, times its weight.
    float loss(const int* labels);
    // Fills params().grads() from the logits' gradient, calling `after_op` (if given) as each
    // op's backward completes (its parameters' gradients are then final): data-parallel training
    // starts their allreduce there.
    void backward(const std::function<void(const Op&)>& after_op = {});
    void backward(const float* dlogits);  // the same from a given gradient of the logits
    // Also compute the gradient of the input images (value(input()).grad), e.g. for tests.
    void require_input_grad() { value(0).needs_grad = true; }

    // The activations' ranges an int8 plan (Options::precision int8) quantizes with (calibrate() in
    // quantize.h makes them); taken at the next plan. Throws Error unless there is one range per value.
    void set_quantization(ActivationRanges ranges);
    const ActivationRanges& quantization() const { return ranges_; }
    // forward() with every op on all threads in order (needs Parallel::ops), calling observe(v)
    // as soon as the op that writes value v has run, before its memory is reused: calibration
    // reads every activation so.
    const float* forward_observed(const float* images, const std::function<void(const Value&)>& observe);

    // Each op's wall time (execution.h), for `googlenet bench --profile`. While profiling is on,
    // forward and backward add every op's time to its entry. Batch norm's oneDNN backward
    // computes its weights' and its input's gradients at once and counts as backward-data.
    // set_profiling(true) starts from zero. With the batch split each copy times its own ops on
    // its share and op_times() gives the first copy's ops with the copies' mean times; with the
    // paths side by side, each op's time on the thread that ran it (a split op's parts summed),
    // so ops of one stage overlap.
    void set_profiling(bool on);
    std::vector<OpTime> op_times() const;  // every op of the net that ran the batch, in order
private:
    friend class BatchSplit;  // makes its copies of this net
    bool splittable() const;
    bool has_batch_norm() const;
    bool plans_by_mode() const;
    bool wants_paths(int n, int threads) const;
    bool plan_current(int n, int threads) const;
    void plan(int n);
    // The passes of src/passes/ applied to the program (net_plan.cpp).
    void fuse();  // at every plan: what fuses depends on training
    void choose_layouts();
    std::vector<struct OpUse> op_uses() const;
    void plan_memory();

    Graph graph_;  // the batch split's copies are made from it
    std::vector<struct FusedOp> fused_;  // what runs of the graph's nodes (src/passes/fusion.h)
    ParamStore params_;
    std::unique_ptr<Program> program_;   // the ops over their values (src/execution/program.h)
    std::shared_ptr<RunState> state_;    // training, random draws; shared with the batch split's copies
    int batch_ = 0;
    Options options_;
    ActivationRanges ranges_;  // for int8 plans
    Options planned_options_;  // as at the last plan
    int image_offset_ = 0;     // as a copy: its first image (dropout draws by the batch's index)
    int algorithm_batch_ = 0;  // as a copy: the share size every copy chooses algorithms for
    bool profiling_ = false;
    bool planned_training_ = false;  // RunState::training when plan ran
    bool has_batch_norm_ = false;    // of the graph: plan_current asks at every forward
    // The executors made so far, and the one the current batch runs on.
    std::unique_ptr<SequentialExecutor> sequential_;
    std::unique_ptr<PathsExecutor> paths_;
    std::unique_ptr<BatchSplit> split_;
    Executor* executor_ = nullptr;
};

}  // namespace googlenet
