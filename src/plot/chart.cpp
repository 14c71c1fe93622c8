// Line charts and confusion matrices on Cairo. One drawing routine per picture renders onto
// whichever surface it is given, so the PNG and the SVG are the same picture.
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <functional>

#include "googlenet/io.h"
#include "googlenet/plot.h"
#include "googlenet/error.h"

namespace googlenet {
namespace {

constexpr const char* kFont = "DejaVu Sans";

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
}

void check(cairo_status_t status, const std::string& path) {
    if (status != CAIRO_STATUS_SUCCESS)
        throw Error(path + ": cannot draw (" + cairo_status_to_string(status) + ")");
}

void write_bytes(const std::string& path, const std::string& bytes) {
    write_file_atomic(path, [&](std::FILE* f) { std::fwrite(bytes.data(), 1, bytes.size(), f); });
}

// Renders `draw` into stem.png and stem.svg. Both are made in memory first so that a failure in
// Cairo leaves no file behind, and the write itself is atomic.
void render(const std::string& stem, int width, int height, const std::function<void(cairo_t*)>& draw) {
    const std::string png_path = stem + ".png", svg_path = stem + ".svg";
    std::string png, svg;
    {
        cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
        cairo_t* cr = cairo_create(surface);
        draw(cr);
        const cairo_status_t drawn = cairo_status(cr);
        cairo_destroy(cr);
        const cairo_status_t written =
            drawn == CAIRO_STATUS_SUCCESS ? cairo_surface_write_to_png_stream(surface, append_bytes, &png) : drawn;
        cairo_surface_destroy(surface);
        check(written, png_path);
    }
    {
        cairo_surface_t* surface = cairo_svg_surface_create_for_stream(append_bytes, &svg, width, height);
        cairo_t* cr = cairo_create(surface);
        draw(cr);
        const cairo_status_t drawn = cairo_status(cr);
        cairo_destroy(cr);
        cairo_surface_finish(surface);
        const cairo_status_t finished = cairo_surface_status(surface);
        cairo_surface_destroy(surface);
        check(drawn != CAIRO_STATUS_SUCCESS ? drawn : finished, svg_path);
    }
    write_bytes(png_path, png);
    write_bytes(svg_path, svg);
}

void set_rgb(cairo_t* cr, unsigned rgb) {
    cairo_set_source_rgb(cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0, (rgb & 255) / 255.0);
}

enum class Align { left, center, right };

// Text whose anchor is (x, y): horizontally as `align` says, vertically centred on y.
void text(cairo_t* cr, double x, double y, const std::string& s, Align align = Align::left, double size = 12,
          bool bold = false) {
    cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s.c_str(), &e);
    const double dx = align == Align::left ? 0 : align == Align::center ? e.x_advance / 2 : e.x_advance;
    cairo_move_to(cr, x - dx, y + size * 0.35);
    cairo_show_text(cr, s.c_str());
}

// Ticks at 1, 2 or 5 times a power of ten, about `target` of them across [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target) {
    if (!(hi - lo > 1e-12 && std::isfinite(hi - lo))) return {lo, hi};  // nothing sensible to divide
    const double raw = (hi - lo) / std::max(target, 1);
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    double step = magnitude;
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * magnitude >= raw) {
            step = m * magnitude;
            break;
        }
    std::vector<double> ticks;
    const double first = std::ceil(lo / step - 1e-9);
    for (int i = 0; i <= 4 * target; ++i) {
        const double t = (first + i) * step;
        if (t > hi + step * 1e-9) break;
        ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    }
    if (ticks.empty()) ticks = {lo, hi};
    return ticks;
}

std::string tick_label(double v) { return fmt::format("{:g}", std::round(v * 1e6) / 1e6); }

void draw_lines(cairo_t* cr, const LineChart& chart, int width, int height) {
    const double left = 60, right = 20, top = 36, bottom = 50;
    const double pw = width - left - right, ph = height - top - bottom;
    double y_max = 0;
    for (const Curve& c : chart.curves)
        for (double y : c.y)
            if (std::isfinite(y)) y_max = std::max(y_max, y);
    std::vector<double> y_ticks = nice_ticks(0, y_max > 0 ? y_max : 1, 5);
    if (y_ticks.size() >= 2 && y_ticks.back() < y_max)  // end the axis on a round number above the data
        y_ticks.push_back(y_ticks.back() + (y_ticks[1] - y_ticks[0]));
    const double y_top = std::max(y_ticks.back(), y_max > 0 ? y_max : 1);
    const double x_span = chart.x_max > chart.x_min ? chart.x_max - chart.x_min : 1;
    auto px = [&](double x) { return left + (x - chart.x_min) / x_span * pw; };
    auto py = [&](double y) { return top + ph - y / y_top * ph; };

    set_rgb(cr, 0xffffff);
    cairo_paint(cr);
    set_rgb(cr, 0x000000);
    text(cr, width / 2.0, top / 2, chart.title, Align::center, 14, true);

    cairo_set_line_width(cr, 1);
    for (double t : y_ticks) {
        set_rgb(cr, 0xe6e6e6);
        cairo_move_to(cr, left, std::round(py(t)) + 0.5);
        cairo_line_to(cr, left + pw, std::round(py(t)) + 0.5);
        cairo_stroke(cr);
        set_rgb(cr, 0x333333);
        text(cr, left - 6, py(t), tick_label(t), Align::right, 11);
    }
    for (double t : nice_ticks(chart.x_min, chart.x_min + x_span, 10)) {
        set_rgb(cr, 0xe6e6e6);
        cairo_move_to(cr, std::round(px(t)) + 0.5, top);
        cairo_line_to(cr, std::round(px(t)) + 0.5, top + ph);
        cairo_stroke(cr);
        set_rgb(cr, 0x333333);
        text(cr, px(t), top + ph + 12, tick_label(t), Align::center, 11);
    }
    set_rgb(cr, 0x333333);
    cairo_rectangle(cr, left + 0.5, top + 0.5, pw, ph);
    cairo_stroke(cr);
    text(cr, left + pw / 2, height - 14, chart.x_label, Align::center, 12);

    cairo_save(cr);
    cairo_rectangle(cr, left, top, pw, ph);
    cairo_clip(cr);
    cairo_set_line_width(cr, 2);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    auto set_dash = [&](Curve::Dash d) {
        static const double dashed[] = {7, 4}, dash_dot[] = {7, 3, 2, 3};
        if (d == Curve::Dash::solid) cairo_set_dash(cr, nullptr, 0, 0);
        if (d == Curve::Dash::dashed) cairo_set_dash(cr, dashed, 2, 0);
        if (d == Curve::Dash::dash_dot) cairo_set_dash(cr, dash_dot, 4, 0);
    };
    for (const Curve& c : chart.curves) {
        set_rgb(cr, c.rgb);
        set_dash(c.dash);
        bool pen_down = false;  // a non-finite value breaks the line
        for (size_t i = 0; i < c.x.size() && i < c.y.size(); ++i) {
            if (!std::isfinite(c.y[i]) || !std::isfinite(c.x[i])) {
                pen_down = false;
                continue;
            }
            if (pen_down)
                cairo_line_to(cr, px(c.x[i]), py(c.y[i]));
            else
                cairo_move_to(cr, px(c.x[i]), py(c.y[i]));
            pen_down = true;
        }
        cairo_stroke(cr);
        if (c.x.size() == 1 && std::isfinite(c.y[0])) {  // a single point has no line to show
            cairo_arc(cr, px(c.x[0]), py(c.y[0]), 3, 0, 2 * M_PI);
            cairo_fill(cr);
        }
    }
    cairo_restore(cr);

    // The legend, top right inside the plot, as matplotlib puts it when that corner is free.
    const double row = 18, box_w = 120, box_h = row * double(chart.curves.size()) + 8;
    const double bx = left + pw - box_w - 8, by = top + 8;
    set_rgb(cr, 0xffffff);
    cairo_rectangle(cr, bx, by, box_w, box_h);
    cairo_fill_preserve(cr);
    set_rgb(cr, 0xcccccc);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    cairo_set_line_width(cr, 2);
    for (size_t i = 0; i < chart.curves.size(); ++i) {
        const Curve& c = chart.curves[i];
        const double y = by + 4 + row * (double(i) + 0.5);
        set_rgb(cr, c.rgb);
        set_dash(c.dash);
        cairo_move_to(cr, bx + 8, y);
        cairo_line_to(cr, bx + 36, y);
        cairo_stroke(cr);
        set_dash(Curve::Dash::solid);
        set_rgb(cr, 0x000000);
        text(cr, bx + 44, y, c.label, Align::left, 11);
    }
}

void draw_matrix(cairo_t* cr, const std::vector<long>& counts, const std::vector<std::string>& classes,
                 const std::string& title, int width, int height) {
    const int n = int(classes.size());
    const double left = 110, top = 44, right = 16, bottom = 110;
    const double cell = std::min((width - left - right) / n, (height - top - bottom) / n);
    set_rgb(cr, 0xffffff);
    cairo_paint(cr);
    set_rgb(cr, 0x000000);
    text(cr, width / 2.0, top / 2, title, Align::center, 14, true);
    for (int t = 0; t < n; ++t) {
        long row_total = 0;
        for (int p = 0; p < n; ++p) row_total += counts[size_t(t * n + p)];
        for (int p = 0; p < n; ++p) {
            const long v = counts[size_t(t * n + p)];
            const double share = row_total ? double(v) / double(row_total) : 0;
            // White to matplotlib's "Blues" dark end, by the share of the row.
            const double r = 1 - share * (1 - 0x08 / 255.0), g = 1 - share * (1 - 0x30 / 255.0),
                         b = 1 - share * (1 - 0x6b / 255.0);
            const double x = left + p * cell, y = top + t * cell;
            cairo_set_source_rgb(cr, r, g, b);
            cairo_rectangle(cr, x, y, cell, cell);
            cairo_fill(cr);
            set_rgb(cr, share > 0.5 ? 0xffffff : 0x000000);
            text(cr, x + cell / 2, y + cell / 2, std::to_string(v), Align::center, std::min(11.0, cell / 3.2));
        }
    }
    set_rgb(cr, 0x999999);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, left, top, cell * n, cell * n);
    cairo_stroke(cr);
    set_rgb(cr, 0x000000);
    for (int i = 0; i < n; ++i) {
        text(cr, left - 6, top + (i + 0.5) * cell, classes[size_t(i)], Align::right, 11);
        cairo_save(cr);
        cairo_translate(cr, left + (i + 0.5) * cell, top + n * cell + 6);
        cairo_rotate(cr, -M_PI / 4);
        text(cr, 0, 0, classes[size_t(i)], Align::right, 11);
        cairo_restore(cr);
    }
    text(cr, left + n * cell / 2, height - 12, "predicted class", Align::center, 12);
    cairo_save(cr);
    cairo_translate(cr, 14, top + n * cell / 2);
    cairo_rotate(cr, -M_PI / 2);
    text(cr, 0, 0, "true class", Align::center, 12);
    cairo_restore(cr);
}

}  // namespace

void draw_line_chart(const LineChart& chart, const std::string& stem, int width, int height) {
    render(stem, width, height, [&](cairo_t* cr) { draw_lines(cr, chart, width, height); });
}

void draw_confusion_matrix(const std::vector<long>& counts, const std::vector<std::string>& classes,
                           const std::string& title, const std::string& stem, int width, int height) {
    if (counts.size() != classes.size() * classes.size())
        throw Error(stem + ": a confusion matrix of " + std::to_string(classes.size()) + " classes needs " +
                    std::to_string(classes.size() * classes.size()) + " counts, not " + std::to_string(counts.size()));
    render(stem, width, height, [&](cairo_t* cr) { draw_matrix(cr, counts, classes, title, width, height); });
}

}  // namespace googlenet
