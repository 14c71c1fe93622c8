#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

#include "googlenet/data.h"
#include "googlenet/error.h"

namespace googlenet {

const char* const kFashionMnistClasses[10] = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                              "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
const char* const kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

namespace {

std::vector<uint8_t> read_gzip_file(const std::string& path) {
    if (!std::ifstream(path).good())
        throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
    gzFile f = gzopen(path.c_str(), "rb");  // reads uncompressed files as they are, too
    if (!f) throw Error(path + ": cannot open");
    std::vector<uint8_t> out;
    uint8_t chunk[1 << 16];
    int n;
    // Far above any IDX data set, far below what would exhaust memory on a corrupt or hostile file.
    constexpr size_t kMaxBytes = size_t(512) << 20;
    while ((n = gzread(f, chunk, sizeof chunk)) > 0) {
        out.insert(out.end(), chunk, chunk + n);
        if (out.size() > kMaxBytes) {
            gzclose(f);
            throw Error(path + ": holds more than 512 MiB of data; not an IDX file this program reads");
        }
    }
    int err = Z_OK;
    const char* msg = gzerror(f, &err);
    const std::string what = msg ? msg : "";
    gzclose(f);
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
        throw Error(path + ": corrupt gzip data (" + what + ")");
    return out;
}

std::string dims_text(const std::vector<int>& dims) {
    std::string s;
    for (int d : dims) s += (s.empty() ? "" : " x ") + std::to_string(d);
    return s;
}

}  // namespace

IdxArray read_idx(const std::string& path, int expected_rank) {
    const std::vector<uint8_t> bytes = read_gzip_file(path);
    if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] != expected_rank)
        throw Error(path + ": not an IDX file of unsigned bytes with " + std::to_string(expected_rank) +
                    " dimension(s) (wrong magic number)");
    const size_t header = 4 + 4 * size_t(expected_rank);
    if (bytes.size() < header) throw Error(path + ": truncated IDX header");
    IdxArray a;
    size_t count = 1;
    for (int i = 0; i < expected_rank; ++i) {
        const uint8_t* p = &bytes[4 + 4 * size_t(i)];
        const uint32_t d = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
        if (d == 0 || d > (1u << 28)) throw Error(path + ": implausible dimension " + std::to_string(d));
        a.dims.push_back(int(d));
        if (count > SIZE_MAX / d)  // checked before multiplying, which would overflow
            throw Error(path + ": holds " + std::to_string(bytes.size() - header) + " data bytes but its header says " +
                        dims_text(a.dims) + " (truncated or corrupt)");
        count *= d;
    }
    if (bytes.size() - header != count)
        throw Error(path + ": holds " + std::to_string(bytes.size() - header) + " data bytes but its header says " +
                    std::to_string(count) + " (truncated or corrupt)");
    a.data.assign(bytes.begin() + long(header), bytes.end());
    return a;
}

ImageSet load_fashion_mnist(const std::string& dir, const std::string& split, int limit) {
    if (split != "train" && split != "test") throw Error("unknown split '" + split + "' (train or test)");
    const std::string prefix = dir + "/" + (split == "train" ? "train" : "t10k");
    const std::string images_path = prefix + "-images-idx3-ubyte.gz", labels_path = prefix + "-labels-idx1-ubyte.gz";
    IdxArray images = read_idx(images_path, 3);
    IdxArray labels = read_idx(labels_path, 1);
    if (images.dims[0] != labels.dims[0])
        throw Error(images_path + " holds " + std::to_string(images.dims[0]) + " images but " + labels_path +
                    " holds " + std::to_string(labels.dims[0]) + " labels");
    for (uint8_t y : labels.data)
        if (y >= 10) throw Error(labels_path + ": label " + std::to_string(y) + " is not a class (0-9)");
    ImageSet set;
    set.count = images.dims[0];
    set.height = images.dims[1];
    set.width = images.dims[2];
    set.pixels = std::move(images.data);
    set.labels = std::move(labels.data);
    if (limit > 0 && limit < set.count) {
        set.count = limit;
        set.pixels.resize(size_t(limit) * set.height * set.width);
        set.labels.resize(size_t(limit));
    }
    return set;
}

}  // namespace googlenet
