// Data: PIL-exact resizing, IDX parsing and its errors, and the batch loader's order.
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "googlenet/data.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

TEST(Resize, MatchesPilBilinearOnFashionMnist) {
    const Fixture f("resize.safetensors");
    const auto& src = f["src"];
    ASSERT_EQ(src.size(), 16u * 28 * 28);
    std::vector<uint8_t> in(src.begin(), src.end());
    for (int size : {96, 64, 224, 20}) {
        const auto& expected = f["r" + std::to_string(size)];
        std::vector<uint8_t> out(size_t(size) * size);
        int worst = 0;
        for (int i = 0; i < 16; ++i) {
            resize_bilinear(&in[size_t(i) * 784], 28, 28, out.data(), size, size);
            for (size_t p = 0; p < out.size(); ++p)
                worst = std::max(worst, std::abs(int(out[p]) - int(expected[size_t(i) * out.size() + p])));
        }
        // The issue allows 1/255 a pixel; we reproduce PIL's fixed-point arithmetic, so expect 0.
        EXPECT_EQ(worst, 0) << "resize to " << size;
    }
}

namespace {

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), unsigned(bytes.size()));
    gzclose(f);
}

std::vector<uint8_t> idx_bytes(std::vector<uint32_t> dims, size_t data_bytes) {
    std::vector<uint8_t> b = {0, 0, 8, uint8_t(dims.size())};
    for (uint32_t d : dims)
        for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(d >> s));
    for (size_t i = 0; i < data_bytes; ++i) b.push_back(uint8_t(i % 10));
    return b;
}

}  // namespace

TEST(Idx, ReadsTheRealFiles) {
    const IdxArray labels = read_idx(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz", 1);
    EXPECT_EQ(labels.dims, std::vector<int>{10000});
    const ImageSet test = load_fashion_mnist(kFashionMnistDir, "test", 100);
    EXPECT_EQ(test.count, 100);
    EXPECT_EQ(test.height, 28);
    EXPECT_EQ(test.pixels.size(), 100u * 784);
}

TEST(Idx, BadFilesGetErrorsThatNameThem) {
    const std::string dir = temp_path("idx_bad");
    std::remove((dir + "/t10k-images-idx3-ubyte.gz").c_str());
    expect_error([&] { read_idx(dir + "/missing.gz", 1); }, "missing.gz: cannot open");
    const std::string magic = temp_path("magic.gz");
    auto b = idx_bytes({3}, 3);
    b[2] = 0x0D;  // float data
    write_gz(magic, b);
    expect_error([&] { read_idx(magic, 1); }, "magic.gz: not an IDX file");
    const std::string truncated = temp_path("truncated.gz");
    write_gz(truncated, idx_bytes({5, 28, 28}, 5 * 784 - 10));
    expect_error([&] { read_idx(truncated, 3); }, "truncated.gz: holds 3910 data bytes but its header says 3920");
    const std::string corrupt = temp_path("corrupt.gz");
    std::vector<uint8_t> gz;
    {
        write_gz(corrupt, idx_bytes({100}, 100));
        std::ifstream in(corrupt, std::ios::binary);
        gz.assign(std::istreambuf_iterator<char>(in), {});
    }
    gz[gz.size() / 2] ^= 0xFF;
    std::ofstream(corrupt, std::ios::binary).write(reinterpret_cast<char*>(gz.data()), long(gz.size()));
    expect_error([&] { read_idx(corrupt, 1); }, "corrupt.gz");
}

TEST(Idx, ImageAndLabelCountsMustAgree) {
    const std::string dir = temp_path("");
    write_gz(dir + "t10k-images-idx3-ubyte.gz", idx_bytes({4, 28, 28}, 4 * 784));
    write_gz(dir + "t10k-labels-idx1-ubyte.gz", idx_bytes({5}, 5));
    expect_error([&] { load_fashion_mnist(dir, "test"); }, "holds 4 images but");
}

TEST(BatchLoader, EachEpochIsARepeatablePermutation) {
    ImageSet set;
    set.count = 10;
    set.height = set.width = 2;
    for (int i = 0; i < 10; ++i) {
        for (int p = 0; p < 4; ++p) set.pixels.push_back(uint8_t(i * 20));
        set.labels.push_back(uint8_t(i));
    }
    auto epoch_order = [&](uint64_t seed, int epoch, bool shuffle) {
        BatchLoader loader(set, 4, 2, shuffle, seed);
        loader.start_epoch(epoch);
        std::vector<int> order, sizes;
        Batch b;
        while (loader.next(b)) {
            sizes.push_back(b.size);
            for (int i = 0; i < b.size; ++i) {
                order.push_back(b.labels[size_t(i)]);
                EXPECT_FLOAT_EQ(b.images[size_t(i) * 4], float(b.labels[size_t(i)] * 20) / 255.0f);
            }
        }
        EXPECT_EQ(sizes, (std::vector<int>{4, 4, 2}));
        return order;
    };
    const auto a = epoch_order(7, 1, true);
    EXPECT_EQ(std::set<int>(a.begin(), a.end()).size(), 10u);
    EXPECT_EQ(a, epoch_order(7, 1, true));
    EXPECT_NE(a, epoch_order(7, 2, true));
    EXPECT_NE(a, epoch_order(8, 1, true));
    EXPECT_EQ(epoch_order(7, 1, false), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

// A batch whose memory cannot be had is an error from next(), not std::terminate from the
// loader's thread. ASan's allocator ends the process on any failed allocation by design, so the
// sanitizer build leaves this one case out; the Release suite runs it.
TEST(BatchLoader, OutOfMemoryInItsThreadIsAnErrorForTheCaller) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "AddressSanitizer aborts on a failed allocation instead of throwing std::bad_alloc";
#else
    ImageSet set;
    set.count = 2, set.height = set.width = 28;
    set.pixels.assign(2 * 28 * 28, 7);
    set.labels = {1, 2};
    BatchLoader loader(set, 2, 1 << 20, false, 0);  // 2^40 pixels an image: more than the machine has
    loader.start_epoch(1);
    Batch b;
    expect_error([&] { loader.next(b); }, "out of memory preparing a batch of 2 images of 1048576x1048576");
    loader.start_epoch(2);  // and it can start again
    expect_error([&] { loader.next(b); }, "use a smaller --batch-size or --resize");
#endif
}
