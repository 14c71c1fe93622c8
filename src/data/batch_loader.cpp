#include <fmt/format.h>

#include <numeric>
#include <random>

#include "googlenet/data.h"
#include "googlenet/error.h"

namespace googlenet {

BatchLoader::BatchLoader(const ImageSet& set, int batch_size, int resize, bool shuffle, uint64_t seed, int depth,
                         int shard, int shards)
    : set_(set), batch_size_(batch_size), resize_(resize), shard_(shard), shards_(shards), shuffle_(shuffle),
      seed_(seed), depth_(size_t(depth)) {
    if (batch_size < 1) throw Error("batch size must be at least 1");
    if (shards < 1 || shard < 0 || shard >= shards) throw Error("shard " + std::to_string(shard) + " of " +
                                                                std::to_string(shards) + " does not exist");
    if (resize < 1) throw Error("resize must be at least 1");
    if (set.count < 1) throw Error("the data set is empty");
}

BatchLoader::~BatchLoader() { stop(); }

void BatchLoader::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        cancel_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    queue_.clear();
    cancel_ = false;
    error_ = nullptr;
}

std::vector<int> epoch_order(int count, bool shuffle, uint64_t seed, int epoch) {
    std::vector<int> order(static_cast<size_t>(count));
    std::iota(order.begin(), order.end(), 0);
    if (shuffle && count > 1) {
        std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + uint64_t(epoch) + 1);
        for (size_t i = order.size() - 1; i > 0; --i) {
            const size_t j = size_t(rng() % (i + 1));
            std::swap(order[i], order[j]);
        }
    }
    return order;
}

void BatchLoader::start_epoch(int epoch, int first_batch) {
    stop();
    std::vector<int> order = epoch_order(set_.count, shuffle_, seed_, epoch);
    if (first_batch < 0 || first_batch > batches_per_epoch())
        throw Error("batch " + std::to_string(first_batch) + " is outside the epoch");
    remaining_ = batches_per_epoch() - first_batch;
    worker_ = std::thread(&BatchLoader::produce, this, std::move(order), size_t(first_batch) * size_t(batch_size_));
}

// A batch's memory that cannot be had (a huge --batch-size or --resize) is an error for the caller
// of next(), as every other failure here: an exception leaving a std::thread ends the process.
void BatchLoader::produce(std::vector<int> order, size_t first_image) try {
    const size_t src_pixels = size_t(set_.height) * set_.width, dst_pixels = size_t(resize_) * resize_;
    std::vector<uint8_t> resized(dst_pixels);
    for (size_t start = first_image; start < order.size(); start += size_t(batch_size_)) {
        Batch b;
        b.global_size = int(std::min(order.size() - start, size_t(batch_size_)));
        const size_t first = start + size_t(b.global_size) * size_t(shard_) / size_t(shards_);
        b.size = int(start + size_t(b.global_size) * size_t(shard_ + 1) / size_t(shards_) - first);
        b.images.resize(size_t(b.size) * dst_pixels);
        b.labels.resize(size_t(b.size));
        for (int i = 0; i < b.size; ++i) {
            const int idx = order[first + size_t(i)];
            resize_bilinear(&set_.pixels[size_t(idx) * src_pixels], set_.width, set_.height, resized.data(),
                            resize_, resize_);
            float* out = &b.images[size_t(i) * dst_pixels];
            for (size_t p = 0; p < dst_pixels; ++p) out[p] = float(resized[p]) / 255.0f;  // as ToTensor
            b.labels[size_t(i)] = set_.labels[size_t(idx)];
        }
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return cancel_ || queue_.size() < depth_; });
        if (cancel_) return;
        queue_.push_back(std::move(b));
        cv_.notify_all();
    }
} catch (...) {
    std::exception_ptr error = std::current_exception();
    try {
        std::rethrow_exception(error);
    } catch (const std::bad_alloc&) {
        error = std::make_exception_ptr(Error(fmt::format(
            "out of memory preparing a batch of {} images of {}x{} ({:.1f} GiB): use a smaller --batch-size or --resize",
            std::min(batch_size_, set_.count), resize_, resize_,
            double(std::min(batch_size_, set_.count)) * resize_ * resize_ * sizeof(float) / double(1 << 30))));
    } catch (...) {
    }
    std::lock_guard<std::mutex> lock(mu_);
    error_ = error;
    cv_.notify_all();
}

bool BatchLoader::next(Batch& out) {
    std::unique_lock<std::mutex> lock(mu_);
    if (remaining_ == 0) return false;
    cv_.wait(lock, [&] { return !queue_.empty() || error_; });
    if (queue_.empty()) std::rethrow_exception(error_);
    out = std::move(queue_.front());
    queue_.pop_front();
    --remaining_;
    cv_.notify_all();
    return true;
}

}  // namespace googlenet
