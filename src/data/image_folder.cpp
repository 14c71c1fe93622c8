#include "googlenet/image_folder.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "googlenet/error.h"

namespace googlenet {
namespace fs = std::filesystem;

namespace {

bool is_image(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// One channel of the region (x0, y0, w, h) of an interleaved image, resized to out_w x out_h with
// PIL's bilinear filter (as torchvision's resized_crop does on a PIL image: crop, then resize).
void crop_resize(const RgbImage& img, int channel, int x0, int y0, int w, int h, int out_w, int out_h, uint8_t* out) {
    std::vector<uint8_t> plane(size_t(w) * size_t(h));
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) plane[size_t(y) * w + x] = img.pixels[(size_t(y0 + y) * img.width + (x0 + x)) * 3 + channel];
    resize_bilinear(plane.data(), w, h, out, out_w, out_h);
}

}  // namespace

ImageFolder scan_image_folder(const std::string& root) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) throw Error(root + ": not a folder (an image folder has one sub-folder per class)");
    ImageFolder f;
    f.root = root;
    for (const auto& entry : fs::directory_iterator(root, ec))
        if (entry.is_directory()) f.classes.push_back(entry.path().filename().string());
    if (ec) throw Error(root + ": cannot list (" + ec.message() + ")");
    std::sort(f.classes.begin(), f.classes.end());
    if (f.classes.empty()) throw Error(root + ": no class sub-folders (an image folder has one per class)");
    for (int c = 0; c < int(f.classes.size()); ++c) {
        std::vector<std::string> files;
        for (const auto& entry : fs::recursive_directory_iterator(fs::path(root) / f.classes[size_t(c)], ec))
            if (entry.is_regular_file() && is_image(entry.path())) files.push_back(entry.path().string());
        std::sort(files.begin(), files.end());
        for (auto& p : files) {
            f.paths.push_back(std::move(p));
            f.labels.push_back(c);
        }
    }
    if (f.paths.empty()) throw Error(root + ": no .png, .jpg or .jpeg files in its class folders");
    return f;
}

std::vector<float> transform_image(const RgbImage& img, const ImageTransform& t, uint64_t seed) {
    const int W = img.width, H = img.height, S = t.size;
    int x0 = 0, y0 = 0, w = W, h = H, out_w = S, out_h = S, cx = 0, cy = 0;
    bool flip = false;
    if (t.train) {
        // torchvision's RandomResizedCrop: ten tries at an area and aspect ratio that fit, then a
        // centre crop at the nearest allowed ratio.
        std::mt19937_64 rng(mix(seed));
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        bool found = false;
        for (int attempt = 0; attempt < 10 && !found; ++attempt) {
            const double area = double(W) * H * (0.08 + 0.92 * unit(rng));
            const double ratio = std::exp(std::log(3.0 / 4) + (std::log(4.0 / 3) - std::log(3.0 / 4)) * unit(rng));
            const int cw = int(std::lround(std::sqrt(area * ratio))), ch = int(std::lround(std::sqrt(area / ratio)));
            if (cw > 0 && ch > 0 && cw <= W && ch <= H) {
                w = cw, h = ch;
                y0 = int(rng() % uint64_t(H - h + 1));
                x0 = int(rng() % uint64_t(W - w + 1));
                found = true;
            }
        }
        if (!found) {
            const double in_ratio = double(W) / H;
            if (in_ratio < 3.0 / 4) w = W, h = int(std::lround(W / (3.0 / 4)));
            else if (in_ratio > 4.0 / 3) h = H, w = int(std::lround(H * (4.0 / 3)));
            h = std::min(h, H), w = std::min(w, W);
            y0 = (H - h) / 2, x0 = (W - w) / 2;
        }
        flip = unit(rng) < 0.5;
    } else {
        // Resize the shorter side to size x 256/224, then take the centre (torchvision's evaluation transform).
        const int shorter = S * 256 / 224;
        if (W <= H) out_w = shorter, out_h = int(double(shorter) * H / W);
        else out_h = shorter, out_w = int(double(shorter) * W / H);
        if (double(out_w) * out_h > double(1 << 26))
            throw Error("a " + std::to_string(W) + "x" + std::to_string(H) + " image is too elongated to resize to " +
                        std::to_string(shorter) + " on its shorter side");
        cx = int(std::lround((out_w - S) / 2.0)), cy = int(std::lround((out_h - S) / 2.0));
    }
    std::vector<float> out(size_t(t.channels) * S * S);
    std::vector<uint8_t> resized(size_t(out_w) * out_h);
    std::vector<uint8_t> grey;
    for (int c = 0; c < t.channels; ++c) {
        if (t.channels == 3) {
            crop_resize(img, c, x0, y0, w, h, out_w, out_h, resized.data());
        } else {  // PIL's convert("L") of the RGB pixels, then the same crop and resize
            RgbImage g{W, H, std::vector<uint8_t>(img.pixels.size())};
            for (size_t i = 0; i < size_t(W) * H; ++i) {
                const uint8_t* p = &img.pixels[3 * i];
                g.pixels[3 * i] = uint8_t((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
            }
            crop_resize(g, 0, x0, y0, w, h, out_w, out_h, resized.data());
        }
        const float mean = t.channels == 3 ? t.mean[size_t(c)] : 0.f, std = t.channels == 3 ? t.std[size_t(c)] : 1.f;
        for (int y = 0; y < S; ++y)
            for (int x = 0; x < S; ++x) {
                const int sx = flip ? out_w - 1 - (cx + x) : cx + x;
                out[(size_t(c) * S + y) * S + x] = (float(resized[size_t(cy + y) * out_w + sx]) / 255.f - mean) / std;
            }
    }
    return out;
}

FolderLoader::FolderLoader(const ImageFolder& folder, int batch_size, const ImageTransform& transform, bool shuffle,
                           uint64_t seed, int threads, bool skip_bad, int shard, int shards)
    : folder_(folder), batch_size_(batch_size), transform_(transform), shuffle_(shuffle), skip_bad_(skip_bad),
      seed_(seed), threads_(std::max(threads, 1)), shard_(shard), shards_(shards) {
    if (batch_size < 1) throw Error("batch size must be at least 1");
    if (transform.channels != 1 && transform.channels != 3)
        throw Error("image folders give 1-channel (grey) or 3-channel (RGB) images, not " +
                    std::to_string(transform.channels));
    if (shards < 1 || shard < 0 || shard >= shards) throw Error("shard " + std::to_string(shard) + " does not exist");
}

FolderLoader::~FolderLoader() { stop(); }

void FolderLoader::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        cancel_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    ready_.clear();
    error_.clear();
    cancel_ = false;
}

void FolderLoader::start_epoch(int epoch, int first_batch) {
    stop();
    if (first_batch < 0 || first_batch > batches_per_epoch())
        throw Error("batch " + std::to_string(first_batch) + " is outside the epoch");
    epoch_ = epoch;
    order_ = epoch_order(int(folder_.paths.size()), shuffle_, seed_, epoch);
    next_index_ = claimed_ = first_batch;
    end_index_ = batches_per_epoch();
    for (int i = 0; i < threads_; ++i) workers_.emplace_back(&FolderLoader::work, this);
}

Batch FolderLoader::make_batch(int index, std::string& error) {
    const size_t start = size_t(index) * size_t(batch_size_);
    Batch b;
    b.global_size = int(std::min(order_.size() - start, size_t(batch_size_)));
    const size_t first = start + size_t(b.global_size) * size_t(shard_) / size_t(shards_);
    const size_t last = start + size_t(b.global_size) * size_t(shard_ + 1) / size_t(shards_);
    for (size_t k = first; k < last; ++k) {
        const int i = order_[k];
        const std::string& path = folder_.paths[size_t(i)];
        try {
            const std::vector<float> x = transform_image(
                read_image_rgb(path), transform_, mix(seed_ ^ mix(uint64_t(epoch_) << 32 ^ uint64_t(i))));
            b.images.insert(b.images.end(), x.begin(), x.end());
            b.labels.push_back(folder_.labels[size_t(i)]);
        } catch (const Error& e) {
            std::string what = e.what();
            if (what.rfind(path, 0) != 0) what = path + ": " + what;  // the transform's errors do not know it
            if (!skip_bad_) {
                error = what + " (pass --bad-images skip to leave such images out)";
                return b;
            }
            ++skipped_;
            // One process knows the batch's true size; ranks cannot know each other's losses
            // without talking, so under MPI a skipped image still counts in the global batch.
            if (shards_ == 1) --b.global_size;
            std::fprintf(stderr, "googlenet: skipping an unreadable image: %s\n", what.c_str());
        }
    }
    b.size = int(b.labels.size());
    return b;
}

// Each worker claims the next batch number and makes it, staying at most a few batches ahead
// of the consumer; next() hands them out in order.
void FolderLoader::work() {
    for (;;) {
        int index;
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [&] { return cancel_ || claimed_ >= end_index_ || claimed_ < next_index_ + 2 * threads_; });
            if (cancel_ || claimed_ >= end_index_) return;
            index = claimed_++;
        }
        std::string error;
        Batch b;
        try {  // an exception leaving a std::thread ends the process: hand it to next() instead
            b = make_batch(index, error);
        } catch (const std::bad_alloc&) {
            error = fmt::format("out of memory preparing a batch of {} images of {}x{}: use a smaller --batch-size",
                                batch_size_, transform_.size, transform_.size);
        } catch (const std::exception& e) {
            error = e.what();
        }
        std::lock_guard<std::mutex> lock(mu_);
        if (!error.empty() && error_.empty()) error_ = error;
        ready_.emplace(index, std::move(b));
        cv_.notify_all();
    }
}

bool FolderLoader::next(Batch& out) {
    std::unique_lock<std::mutex> lock(mu_);
    if (next_index_ >= end_index_) return false;
    cv_.wait(lock, [&] { return ready_.count(next_index_) > 0; });
    if (!error_.empty()) throw Error(error_);
    out = std::move(ready_[next_index_]);
    ready_.erase(next_index_);
    ++next_index_;
    cv_.notify_all();
    return true;
}

}  // namespace googlenet
