// What the batch split's copies of one network share while they run side by side, one thread
// each (src/core/batch_split.cpp): a meeting point, and the SharedWork each copy's ops are handed.
#pragma once
#include <atomic>
#include <memory>
#include <vector>

#include "core/runtime.h"

namespace googlenet {

// Waits until every party has come (meet). Not OpenMP's barrier: when a party fails (the
// executor catches its error and calls fail()), the others stop waiting and throw, and the step
// ends with the first error. With OpenMP's, a copy that threw between two meetings left the
// others waiting for it for ever.
class Meeting {
public:
    explicit Meeting(int parties) : parties_(parties) {}
    int parties() const { return parties_; }
    void meet();
    void set_failed(bool failed) { failed_.store(failed, std::memory_order_release); }
    // Before a new run of the parties: forgets a failure and a meeting an error left half-way.
    void restart() { set_failed(false), arrived_ = 0; }

private:
    const int parties_;
    std::atomic<int> arrived_{0};
    std::atomic<unsigned> generation_{0};
    std::atomic<bool> failed_{false};
};

// One buffer the copies fill together where their ops ask alike (Winograd's transformed weights
// in training: one U in the shared cache instead of one per copy, and each copy transforms its
// part). Each copy posts its key, alternating between two rows so that a copy that runs ahead
// does not overwrite what another is still comparing.
class SplitShare {
public:
    explicit SplitShare(int copies);
    ~SplitShare();
    Meeting& meeting() { return meeting_; }
    SharedWork& of(int copy);  // for that copy's Runtime

private:
    class Handle;
    std::optional<SharedWork::Part> begin(int copy, unsigned call, uint64_t key, size_t floats);
    Meeting meeting_;
    Buffer buffer_;
    bool buffer_failed_ = false;
    std::vector<uint64_t> keys_[2];  // per copy
    std::vector<std::unique_ptr<Handle>> handles_;
};

}  // namespace googlenet
