#include "passes/layout.h"

namespace googlenet {

std::vector<Layout> choose_layouts(const Graph& g, const std::vector<FusedOp>& ops, Layout canonical, int channel_block) {
    std::vector<Layout> layouts(size_t(g.value_count()), canonical);
    for (ValueId v = 0; v < g.value_count(); ++v) {
        const Shape& s = g.shape(v);
        const bool matrix_compatible = s.h * s.w > 1 || s.c % channel_block == 0;
        if (v == g.input() || !matrix_compatible) layouts[size_t(v)] = Layout::nchw;
    }
    for (const FusedOp& op : ops) {
        bool aligned = true;
        for (ValueId in : op.inputs) aligned = aligned && g.shape(in).c % channel_block == 0;
        if (g.nodes()[op.node].op.kind == OpAttributes::concat && !aligned) {
            for (ValueId in : op.inputs) layouts[size_t(in)] = Layout::nchw;
            layouts[size_t(op.output)] = Layout::nchw;
        }
    }
    // Elementwise ops and those oneDNN runs in place of shape keep their input's layout; where the
    // rules above gave the two ends different ones (a ReLU on the image), both take NCHW, and
    // again along chains of such ops until nothing changes.
    for (bool changed = true; changed;) {
        changed = false;
        for (const FusedOp& op : ops) {
            const OpAttributes::Kind kind = g.nodes()[op.node].op.kind;
            const bool keeps_layout = kind == OpAttributes::relu || kind == OpAttributes::batch_norm ||
                                      kind == OpAttributes::dropout || kind == OpAttributes::lrn;
            Layout &in = layouts[size_t(op.inputs[0])], &out = layouts[size_t(op.output)];
            if (!keeps_layout || in == out) continue;
            in = out = Layout::nchw;
            changed = true;
        }
    }
    return layouts;
}

}  // namespace googlenet
