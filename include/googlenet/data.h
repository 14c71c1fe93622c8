// Fashion-MNIST from its IDX files, resized as torchvision's Resize does on a PIL image, and
// served as float batches by a background thread so the training step never waits for data.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace googlenet {

extern const char* const kFashionMnistClasses[10];
extern const char* const kFashionMnistDir;  // Debian's dataset-fashion-mnist

struct IdxArray {
    std::vector<int> dims;
    std::vector<uint8_t> data;
};

// Reads an IDX file of unsigned bytes, gzip-compressed or not. `expected_rank` is 3 for images,
// 1 for labels. Errors name the file and what is wrong (missing, wrong magic, truncated, ...).
IdxArray read_idx(const std::string& path, int expected_rank);

struct ImageSet {
    int count = 0, height = 0, width = 0;
    std::vector<uint8_t> pixels;  // count x height x width, row-major
    std::vector<uint8_t> labels;  // count
};

// split is "train" or "test"; limit > 0 keeps the first `limit` images.
ImageSet load_fashion_mnist(const std::string& dir, const std::string& split, int limit = 0);

// PIL's Image.resize(..., BILINEAR) for 8-bit grey images (torchvision's Resize on a PIL image):
// a separable triangle filter, widened when shrinking, with PIL's fixed-point rounding, horizontal
// pass first. Written out because the tests hold it to PIL's output and no C/C++ library we can
// depend on reproduces PIL's arithmetic.
void resize_bilinear(const uint8_t* src, int src_w, int src_h, uint8_t* dst, int dst_w, int dst_h);

struct Batch {
    int size = 0;         // this process's images (its shard of the global batch)
    int global_size = 0;  // images in the global batch, over every shard
    std::vector<float> images;  // size x 1 x resize x resize, in [0, 1]
    std::vector<int> labels;
};

// Where training and evaluation take their batches from: Fashion-MNIST (BatchLoader) or an image
// folder (FolderLoader, image_folder.h).
class BatchSource {
public:
    virtual ~BatchSource() = default;
    virtual int batches_per_epoch() const = 0;
    // Starts producing epoch `epoch`'s batches, from batch `first_batch` on (to resume mid-epoch).
    virtual void start_epoch(int epoch, int first_batch = 0) = 0;
    virtual bool next(Batch& out) = 0;  // false once the epoch's batches are all taken
};

// The order of an epoch's images: a permutation drawn from (seed, epoch), or 0..count-1.
std::vector<int> epoch_order(int count, bool shuffle, uint64_t seed, int epoch);

// Produces one epoch of batches at a time on a background thread, `depth` batches ahead.
// The order is a permutation drawn from (seed, epoch), so a run is repeatable. With `shards` > 1
// (data-parallel training) each global batch of `batch_size` images is cut into that many
// contiguous parts and this loader yields only part `shard`, which may be empty.
class BatchLoader : public BatchSource {
public:
    BatchLoader(const ImageSet& set, int batch_size, int resize, bool shuffle, uint64_t seed, int depth = 3,
                int shard = 0, int shards = 1);
    ~BatchLoader();
    BatchLoader(const BatchLoader&) = delete;
    BatchLoader& operator=(const BatchLoader&) = delete;

    void start_epoch(int epoch, int first_batch = 0) override;
    // Throws what the worker thread met (out of memory for a batch, say) in its place.
    bool next(Batch& out) override;
    int batches_per_epoch() const override { return (set_.count + batch_size_ - 1) / batch_size_; }
    int image_size() const { return resize_; }

private:
    void stop();
    void produce(std::vector<int> order, size_t first_image);

    const ImageSet& set_;
    int batch_size_, resize_;
    int shard_, shards_;
    bool shuffle_;
    uint64_t seed_;
    size_t depth_;
    std::thread worker_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Batch> queue_;
    int remaining_ = 0;
    bool cancel_ = false;
    std::exception_ptr error_;  // what stopped the worker; next() throws it once the queue is empty
};

}  // namespace googlenet
