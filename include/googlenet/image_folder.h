// ImageNet-style data sets: a folder per class, as torchvision's ImageFolder reads them, with
// its training augmentation (random resized crop, horizontal flip) and evaluation transform
// (resize, centre crop), per-channel normalisation, and decoding in threads ahead of compute.
#pragma once
#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "googlenet/data.h"
#include "googlenet/image.h"

namespace googlenet {

struct ImageFolder {
    std::string root;
    std::vector<std::string> classes;  // the sub-folders' names, sorted; a label is an index here
    std::vector<std::string> paths;    // every .png, .jpg and .jpeg file, class by class, sorted
    std::vector<int> labels;
};

// Errors name the folder: missing, no class sub-folders, or no images at all.
ImageFolder scan_image_folder(const std::string& root);

struct ImageTransform {
    int channels = 3;  // 3: RGB; 1: grey (PIL's "L")
    int size = 224;
    bool train = true;  // random resized crop (scale 0.08-1, ratio 3/4-4/3) + flip; else resize + centre crop
    // Subtracted and divided after scaling to [0, 1]; ImageNet's by default (grey: 0 and 1).
    std::array<float, 3> mean{0.485f, 0.456f, 0.406f}, std{0.229f, 0.224f, 0.225f};
};

// One image as channels x size x size floats. `seed` draws the crop and the flip, so the same
// (seed, image) always gives the same result, in whichever thread.
std::vector<float> transform_image(const RgbImage& image, const ImageTransform& t, uint64_t seed);

// Batches from an image folder, decoded and transformed by `threads` threads ahead of compute.
// An unreadable image is reported on stderr by path and left out of its batch, or, with
// skip_bad = false, makes next() throw an Error naming it.
class FolderLoader : public BatchSource {
public:
    FolderLoader(const ImageFolder& folder, int batch_size, const ImageTransform& transform, bool shuffle,
                 uint64_t seed, int threads = 2, bool skip_bad = true, int shard = 0, int shards = 1);
    ~FolderLoader() override;
    FolderLoader(const FolderLoader&) = delete;
    FolderLoader& operator=(const FolderLoader&) = delete;

    int batches_per_epoch() const override { return (int(folder_.paths.size()) + batch_size_ - 1) / batch_size_; }
    void start_epoch(int epoch, int first_batch = 0) override;
    bool next(Batch& out) override;
    int skipped() const { return skipped_; }  // unreadable images left out so far

private:
    void stop();
    void work();
    Batch make_batch(int index, std::string& error);

    const ImageFolder& folder_;
    int batch_size_;
    ImageTransform transform_;
    bool shuffle_, skip_bad_;
    uint64_t seed_;
    int threads_, shard_, shards_;
    int epoch_ = 0, next_index_ = 0, end_index_ = 0, claimed_ = 0;
    std::vector<int> order_;
    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::map<int, Batch> ready_;
    std::string error_;
    bool cancel_ = false;
    std::atomic<int> skipped_{0};
};

}  // namespace googlenet
