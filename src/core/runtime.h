// What ops need while they run: the oneDNN engine and stream, the parameters, and where backward
// writes each input's gradient (set by the executor: src/execution/backward_step.h).
#pragma once
#include <dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <optional>

#include "core/threads.h"
#include "googlenet/op.h"
#include "googlenet/params.h"

namespace googlenet {

// Work an op may share with the same op of other networks running beside it on other threads
// (the batch split's copies: src/execution/split_share.h, which hands one to each). The op never
// learns how the others are run or how they meet.
class SharedWork {
public:
    virtual ~SharedWork() = default;
    struct Part {
        float* buffer;    // one buffer for all
        int index, count;  // fill part `index` of `count`
    };
    // Every sharing op calls begin, for the same ops in the same order, with a key saying what it
    // would compute (0: nothing it can share). Where every key is the same and not 0, all get one
    // buffer of `floats` and a part of it to fill; otherwise none (each computes alone).
    virtual std::optional<Part> begin(uint64_t key, size_t floats) = 0;
    // After filling its part (only when begin gave one): returns once every part is written.
    virtual void end() = 0;
};

// What the network runs as, set by the Net and read by its ops: one for every runtime of a
// network, its threads' and its copies' alike, so that none can fall out of step.
struct RunState {
    // Training or evaluation (dropout, batch norm), and what dropout's masks are drawn from.
    bool training = true;
    uint64_t seed = 0, step = 0;
    // Changes whenever the weights may have changed outside training (Net::set_training,
    // Net::weights_changed): in evaluation, ops may keep weights they derived (reordered) until then.
    uint64_t weights_epoch = 0;
};

// What one thread's ops run with: the engine, its stream and buffers, and the parameters.
class Runtime {
public:
    Runtime(ParamStore& p, const RunState& s) : engine(dnnl::engine::kind::cpu, 0), stream(engine), params(p), state(s) {}
    // Another thread's runtime for the same ops (the paths side by side): the same engine, which
    // their primitives belong to, with its own stream and transient buffers.
    Runtime(ParamStore& p, const RunState& s, const dnnl::engine& e) : engine(e), stream(engine), params(p), state(s) {}

    // Where the running backward writes the gradient of the op's input i (overwriting it), or null
    // where no gradient flows to that input. Set by the executor around each op's backward.
    float* input_grad(size_t i) const { return i < input_grads.size() ? input_grads[i] : nullptr; }
    std::vector<float*> input_grads;
    // Room for a result that is computed but not wanted (at least n floats).
    float* scratch(size_t n) {
        if (scratch_.size() < n) scratch_.resize(n);
        return scratch_.data();
    }

    // Memory an op uses only within one call (Winograd's transformed tiles, its weights before
    // their reorder), shared by all ops since they run one at a time; slots 0 to 3 are separate.
    float* transient(int slot, size_t n) {
        Buffer& b = transient_[slot];
        if (b.size() < n) b.resize(n);
        return b.data();
    }

    dnnl::memory mem(const dnnl::memory::desc& md, const float* p) {
        return dnnl::memory(md, engine, const_cast<float*>(p));
    }

    dnnl::engine engine;
    dnnl::stream stream;
    ParamStore& params;
    const RunState& state;
    Options options;  // the Net's, its precision resolved (never Precision::automatic)
    int image_offset = 0;  // images of the batch before this net's share (Parallel::batch)
    // Work this net's ops may share with others running beside it (the batch split's copies);
    // null when it runs alone.
    SharedWork* shared = nullptr;
    // > 0: ops choose their algorithms as for this batch size rather than their own (so that
    // every net that shares work with this one takes the same path).
    int algorithm_batch = 0;
    // While the executor profiles (Net::set_profiling): the time ops spent in WeightsTime scopes.
    bool profiling = false;
    double weights_ms = 0;

private:
    Buffer scratch_, transient_[4];
};

// Milliseconds since `start`, for the Net's profile.
inline double ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Counts the enclosing scope, an op's backward-weights, as such in the Net's profile.
class WeightsTime {
public:
    explicit WeightsTime(Runtime& rt) : rt_(rt) {
        if (rt_.profiling) start_ = std::chrono::steady_clock::now();
    }
    ~WeightsTime() {
        if (rt_.profiling) rt_.weights_ms += ms_since(start_);
    }
    WeightsTime(const WeightsTime&) = delete;
    WeightsTime& operator=(const WeightsTime&) = delete;

private:
    Runtime& rt_;
    std::chrono::steady_clock::time_point start_;
};

// The channel block of Layout::blocked on this CPU: 16 with AVX-512, else 8.
int channel_block();

dnnl::memory::data_type onednn_type(DataType type);
// The oneDNN memory descriptor of a value's data (and of its gradient), in its layout and type.
dnnl::memory::desc desc_of(const Value& v);
dnnl::memory::desc desc_of(const Shape& s, Layout layout, DataType type = DataType::f32);

// Floats a value of this shape, layout and type occupies (blocked layouts pad the channels; two
// bf16 elements, or four int8 ones, take one float's room).
size_t storage_of(const Shape& s, Layout layout, DataType type = DataType::f32);

}  // namespace googlenet
