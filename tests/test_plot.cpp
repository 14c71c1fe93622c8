// Pictures: the training curves read from metrics.jsonl, and both charts written as PNG and SVG of
// the stated size. The pixels themselves are looked at by a person (docs/); here they are held to
// being valid files that say what they should.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "googlenet/io.h"
#include "googlenet/plot.h"
#include "googlenet/trainer.h"
#include "testing.h"

using namespace googlenet;
using googlenet::testing::expect_error;
using googlenet::testing::temp_path;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

uint32_t big_endian(const std::string& s, size_t at) {
    return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 | uint32_t(uint8_t(s[at + 2])) << 8 |
           uint8_t(s[at + 3]);
}

// A PNG of width x height, and an SVG document of the same size in points.
void expect_pictures(const std::string& stem, uint32_t width, uint32_t height) {
    const std::string png = slurp(stem + ".png"), svg = slurp(stem + ".svg");
    ASSERT_GT(png.size(), 33u) << stem << ".png";
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_EQ(png.substr(12, 4), "IHDR");
    EXPECT_EQ(big_endian(png, 16), width);
    EXPECT_EQ(big_endian(png, 20), height);
    EXPECT_EQ(png.substr(png.size() - 8, 4), "IEND");
    EXPECT_NE(svg.find("<svg"), std::string::npos);
    EXPECT_NE(svg.find("width=\"" + std::to_string(width) + "pt\""), std::string::npos);
    EXPECT_NE(svg.find("height=\"" + std::to_string(height) + "pt\""), std::string::npos);
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

const char* kMetrics =
    R"({"type": "step", "epoch": 1, "batch": 2, "step": 2, "loss": 2.0, "train_loss": 2.2, "train_acc": 0.1, "lr": 0.1, "img_per_sec": 5, "wall_time": 1})"
    "\n"
    R"({"type": "epoch", "epoch": 1, "step": 4, "train_loss": 1.9, "train_acc": 0.3, "test_loss": 1.5, "test_acc": 0.4, "lr": 0.1, "img_per_sec": 5, "wall_time": 2})"
    "\n"
    R"({"type": "step", "epoch": 2, "batch": 1, "step": 5, "loss": 1.0, "train_loss": 1.1, "train_acc": 0.6, "lr": 0.1, "img_per_sec": 5, "wall_time": 3})"
    "\n"
    R"({"type": "epoch", "epoch": 2, "step": 8, "train_loss": 0.9, "train_acc": 0.7, "test_loss": 1.0, "test_acc": 0.65, "lr": 0.1, "img_per_sec": 5, "wall_time": 4})"
    "\n";

TEST(Plot, TrainingCurvesPlaceStepsAtFractionalEpochs) {
    const std::string path = temp_path("curves_metrics.jsonl");
    write_text(path, kMetrics);
    const LineChart chart = training_curves(path);
    ASSERT_EQ(chart.curves.size(), 3u);
    const Curve &loss = chart.curves[0], &train_acc = chart.curves[1], &test_acc = chart.curves[2];
    EXPECT_EQ(loss.label, "train loss");
    EXPECT_EQ(train_acc.label, "train acc");
    EXPECT_EQ(test_acc.label, "test acc");
    // 4 batches an epoch (step 4 ends epoch 1): batch 2 of epoch 1 is at 0.5, batch 1 of epoch 2 at 1.25.
    EXPECT_EQ(loss.x, (std::vector<double>{0.5, 1.0, 1.25, 2.0}));
    EXPECT_EQ(loss.y, (std::vector<double>{2.2, 1.9, 1.1, 0.9}));
    EXPECT_EQ(train_acc.y, (std::vector<double>{0.1, 0.3, 0.6, 0.7}));
    EXPECT_EQ(test_acc.x, (std::vector<double>{1, 2}));
    EXPECT_EQ(test_acc.y, (std::vector<double>{0.4, 0.65}));
    EXPECT_EQ(chart.x_min, 0);
    EXPECT_EQ(chart.x_max, 2);
}

TEST(Plot, LineChartIsAValidPngAndSvg) {
    const std::string path = temp_path("chart_metrics.jsonl"), stem = temp_path("chart");
    write_text(path, kMetrics);
    draw_line_chart(training_curves(path), stem);
    expect_pictures(stem, 640, 440);
    EXPECT_NE(slurp(stem + ".svg").find("<path"), std::string::npos);
    draw_line_chart(training_curves(path), stem, 300, 200);
    expect_pictures(stem, 300, 200);
}

TEST(Plot, DegenerateChartsStillDraw) {
    LineChart empty;
    draw_line_chart(empty, temp_path("empty_chart"));
    expect_pictures(temp_path("empty_chart"), 640, 440);
    LineChart odd;
    odd.curves.push_back({"nan and huge", {0, 1, 2, 3}, {std::nan(""), 1e300, -5, 1e-320}});
    odd.x_max = 3;
    draw_line_chart(odd, temp_path("odd_chart"));
    expect_pictures(temp_path("odd_chart"), 640, 440);
}

TEST(Plot, ConfusionMatrixIsAValidPngAndSvg) {
    std::vector<long> counts(9, 1);
    counts[0] = 50;
    const std::string stem = temp_path("confusion");
    draw_confusion_matrix(counts, {"a", "b", "c"}, "three classes", stem);
    expect_pictures(stem, 720, 680);
    EXPECT_NE(slurp(stem + ".svg").find("<svg"), std::string::npos);
    expect_error([&] { draw_confusion_matrix({1, 2, 3}, {"a", "b"}, "bad", stem); }, "needs 4 counts, not 3");
}

TEST(Plot, UnwritableFolderNamesTheFile) {
    LineChart chart;
    expect_error([&] { draw_line_chart(chart, "/nonexistent-folder/curves"); }, "/nonexistent-folder/curves.png");
}

TEST(Plot, MalformedMetricsNameFileAndLine) {
    const std::string path = temp_path("bad_metrics.jsonl");
    write_text(path, std::string(kMetrics) + "{\"type\": \"epoch\"}\n");
    expect_error([&] { training_curves(path); }, path + ":5: 'epoch' is missing or not a number");
    expect_error([&] { training_curves(temp_path("no_such_metrics.jsonl")); }, "no_such_metrics.jsonl: cannot open");
}

}  // namespace

TEST(Plot, CurvesAreTitledWithTheModelAndTheData) {
    EXPECT_EQ(run_title("d2l", ""), "d2l on Fashion-MNIST");
    EXPECT_EQ(run_title("paper", "/data/flowers/"), "paper on flowers");
    EXPECT_EQ(run_title("paper", "flowers"), "paper on flowers");
    // A run's folder: the model's name from its weights file, the data from its config.json.
    const std::string dir = temp_path("titled-run");
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    EXPECT_EQ(run_title(dir), "training curves");  // nothing to go by
    TrainConfig c;
    c.model = "/somewhere/tiny.json";
    c.train_folder = "/data/shapes";
    std::ofstream(dir + "/config.json") << config_json(c);
    EXPECT_EQ(run_title(dir), "/somewhere/tiny.json on shapes");  // no weights yet: the --model given
    ParamStore none;
    none.allocate();
    save_weights(dir + "/model.safetensors", none, R"({"name": "tiny", "input": {}, "classes": 2, "body": []})");
    EXPECT_EQ(run_title(dir), "tiny on shapes");
}
