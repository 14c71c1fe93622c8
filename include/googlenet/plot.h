// Pictures of a run, drawn with Cairo and written as PNG and SVG: the curves D2L draws while
// training (train loss, train acc and test acc against epoch) and an evaluation's confusion matrix.
#pragma once
#include <string>
#include <vector>

namespace googlenet {

struct Curve {
    std::string label;
    std::vector<double> x, y;
    enum class Dash { solid, dashed, dash_dot } dash = Dash::solid;
    unsigned rgb = 0x1f77b4;  // 0xRRGGBB
};

struct LineChart {
    std::string title, x_label;
    std::vector<Curve> curves;
    double x_min = 0, x_max = 1;  // y spans 0 to a round number above the largest finite value
};

// Writes `stem`.png (width x height pixels) and `stem`.svg (the same in points), each atomically.
void draw_line_chart(const LineChart& chart, const std::string& stem, int width = 640, int height = 440);

// counts: classes x classes, row = true class, column = predicted class. Cells are shaded by the
// share of their row, so each class reads the same whatever its size.
void draw_confusion_matrix(const std::vector<long>& counts, const std::vector<std::string>& classes,
                           const std::string& title, const std::string& stem, int width = 720, int height = 680);

// The curves of a run from its metrics.jsonl, as D2L's train_ch6 animates them: train loss and
// train acc at every step record (placed at fractional epochs) and at each epoch's end, test acc
// at each epoch's end. Errors name the file and line of a malformed record.
LineChart training_curves(const std::string& metrics_path, const std::string& title = "training curves");

}  // namespace googlenet
