// Image folders: scanning (classes sorted, only images, errors that name the folder) and the
// transforms: evaluation's resize + centre crop and normalisation on pictures whose answer is
// known, training's random crop repeatable per seed, and a loader that hands out every image once.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "googlenet/image_folder.h"
#include "testing.h"

using namespace googlenet;
using googlenet::testing::expect_error;
namespace fs = std::filesystem;

namespace {

RgbImage uniform(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
    RgbImage img{w, h, {}};
    for (int i = 0; i < w * h; ++i) img.pixels.insert(img.pixels.end(), {r, g, b});
    return img;
}

TEST(ImageFolder, ScanFindsClassesAndImagesAndNamesTheFolderInErrors) {
    const fs::path root = fs::path(::testing::TempDir()) / "folder_scan";
    fs::remove_all(root);
    for (const char* cls : {"zebra", "ant"}) fs::create_directories(root / cls);
    std::ofstream(root / "ant" / "b.PNG") << "x";
    std::ofstream(root / "ant" / "a.jpg") << "x";
    std::ofstream(root / "ant" / "notes.txt") << "x";
    std::ofstream(root / "zebra" / "c.jpeg") << "x";
    const ImageFolder f = scan_image_folder(root.string());
    EXPECT_EQ(f.classes, (std::vector<std::string>{"ant", "zebra"}));
    ASSERT_EQ(f.paths.size(), 3u);
    EXPECT_EQ(fs::path(f.paths[0]).filename(), "a.jpg");
    EXPECT_EQ(f.labels, (std::vector<int>{0, 0, 1}));
    expect_error([&] { scan_image_folder((root / "missing").string()); }, "missing: not a folder");
    fs::remove_all(root / "ant");
    fs::remove_all(root / "zebra");
    expect_error([&] { scan_image_folder(root.string()); }, "no class sub-folders");
    fs::create_directories(root / "empty");
    expect_error([&] { scan_image_folder(root.string()); }, "no .png, .jpg or .jpeg files");
}

TEST(ImageFolder, EvaluationTransformNormalisesAndKeepsTheCentre) {
    ImageTransform t;
    t.size = 16;
    t.train = false;
    const std::vector<float> x = transform_image(uniform(40, 30, 255, 128, 0), t, 1);
    ASSERT_EQ(x.size(), 3u * 16 * 16);
    for (int c = 0; c < 3; ++c) {
        const float expected = ((c == 0 ? 255 : c == 1 ? 128 : 0) / 255.f - t.mean[size_t(c)]) / t.std[size_t(c)];
        for (int i = 0; i < 256; ++i) ASSERT_NEAR(x[size_t(c) * 256 + size_t(i)], expected, 1e-5) << c;
    }
    // A picture whose left half is black and right half white: the centre crop keeps both halves
    // equally, so the middle columns change colour.
    RgbImage halves = uniform(64, 32, 0, 0, 0);
    for (int y = 0; y < 32; ++y)
        for (int xx = 32; xx < 64; ++xx)
            for (int c = 0; c < 3; ++c) halves.pixels[(size_t(y) * 64 + xx) * 3 + c] = 255;
    ImageTransform grey = t;
    grey.channels = 1;
    const std::vector<float> g = transform_image(halves, grey, 1);
    ASSERT_EQ(g.size(), 256u);
    EXPECT_NEAR(g[8 * 16 + 0], 0.f, 1e-6);   // left edge: black
    EXPECT_NEAR(g[8 * 16 + 15], 1.f, 1e-6);  // right edge: white
}

TEST(ImageFolder, TrainingTransformIsRepeatablePerSeed) {
    ImageTransform t;
    t.size = 24;
    RgbImage img = uniform(50, 40, 0, 0, 0);
    for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = uint8_t(i * 7 % 251);
    const auto a = transform_image(img, t, 5), b = transform_image(img, t, 5), c = transform_image(img, t, 6);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
}

TEST(ImageFolder, LoaderGivesEveryImageOnceAndReportsBadOnes) {
    ImageFolder f;
    for (int i = 0; i < 10; ++i) {
        f.paths.push_back("/nonexistent/" + std::to_string(i) + ".png");
        f.labels.push_back(i % 2);
    }
    f.classes = {"a", "b"};
    ImageTransform t;
    t.size = 8;
    FolderLoader skip(f, 4, t, true, 1, 3);
    skip.start_epoch(1);
    Batch b;
    int batches = 0;
    while (skip.next(b)) {
        ++batches;
        EXPECT_EQ(b.size, 0);  // every image unreadable: left out
    }
    EXPECT_EQ(batches, 3);
    EXPECT_EQ(skip.skipped(), 10);
    FolderLoader fail(f, 4, t, true, 1, 2, false);
    fail.start_epoch(1);
    expect_error([&] { fail.next(b); }, "/nonexistent/");
}

}  // namespace
