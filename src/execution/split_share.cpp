#include "execution/split_share.h"

#include <immintrin.h>

#include <algorithm>
#include <thread>

namespace googlenet {

void Meeting::meet() {
    const unsigned gen = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == parties_) {
        arrived_.store(0, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
        return;
    }
    // Spin first (the copies run the same ops, so they arrive close together), then give the core
    // away, as OpenMP's passive wait does, in case threads outnumber cores.
    for (long spins = 0; generation_.load(std::memory_order_acquire) == gen; ++spins) {
        if (failed_.load(std::memory_order_acquire)) throw Error("stopped: another copy of the network failed");
        if (spins < 100000)
            _mm_pause();
        else
            std::this_thread::yield();
    }
}

class SplitShare::Handle final : public SharedWork {
public:
    Handle(SplitShare& share, int copy) : share_(share), copy_(copy) {}
    std::optional<Part> begin(uint64_t key, size_t floats) override { return share_.begin(copy_, calls_++, key, floats); }
    void end() override { share_.meeting_.meet(); }

private:
    SplitShare& share_;
    const int copy_;
    unsigned calls_ = 0;
};

SplitShare::SplitShare(int copies) : meeting_(copies) {
    for (auto& keys : keys_) keys.assign(size_t(copies), 0);
    for (int i = 0; i < copies; ++i) handles_.push_back(std::make_unique<Handle>(*this, i));
}

SplitShare::~SplitShare() = default;

SharedWork& SplitShare::of(int copy) { return *handles_.at(size_t(copy)); }

// The first meeting also makes sure that no copy still reads the buffer for the op before, the
// second that all see the buffer's size; end()'s that every part is written.
std::optional<SharedWork::Part> SplitShare::begin(int copy, unsigned call, uint64_t key, size_t floats) {
    std::vector<uint64_t>& keys = keys_[call % 2];
    keys[size_t(copy)] = key;
    meeting_.meet();
    const bool alike = key != 0 && std::all_of(keys.begin(), keys.end(), [&](uint64_t k) { return k == key; });
    if (!alike) return std::nullopt;
    // The first copy sizes the buffer; every copy throws alike if it could not.
    if (copy == 0) try {
            buffer_failed_ = false;
            if (buffer_.size() < floats) buffer_.resize(floats);
        } catch (const std::exception&) {
            buffer_failed_ = true;
        }
    meeting_.meet();
    if (buffer_failed_) throw Error("the batch split: no memory for a buffer the copies share");
    return SharedWork::Part{buffer_.data(), copy, meeting_.parties()};
}

}  // namespace googlenet
