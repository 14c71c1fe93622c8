// Min-max calibration: every value's range over the calibration images, read between the ops of
// an fp32 evaluation (Net::forward_observed) before the memory plan reuses its memory.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/runtime.h"
#include "googlenet/net.h"
#include "googlenet/quantize.h"

namespace googlenet {

namespace {

// Puts the net's options and mode back however calibration ends.
class Restore {
public:
    Restore(Net& net) : net_(net), options_(net.options()), training_(net.training()) {}
    ~Restore() {
        try {
            net_.set_options(options_);
            net_.set_training(training_);
        } catch (...) {  // set_options validated these before
        }
    }
    Restore(const Restore&) = delete;
    Restore& operator=(const Restore&) = delete;

private:
    Net& net_;
    Options options_;
    bool training_;
};

}  // namespace

ActivationRanges calibrate(Net& net, const float* images, int n, int batch) {
    if (n < 1) throw Error("calibration needs at least one image, got " + std::to_string(n));
    if (batch < 1) throw Error("calibration batch must be at least 1, got " + std::to_string(batch));
    const size_t values = size_t(net.value_count()), per_image = net.input_shape().per_image();
    Restore restore(net);
    Options o = net.options();
    o.precision = Precision::fp32;
    o.parallel = Parallel::ops;
    net.set_options(o);
    net.set_training(false);
    ActivationRanges r;
    r.lo.assign(values, std::numeric_limits<float>::infinity());
    r.hi.assign(values, -std::numeric_limits<float>::infinity());
    const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    Buffer plain;
    auto observe = [&](const Value& v) {
        // The logical elements only: a blocked layout's padding channels are no data.
        const dnnl::memory::desc from = desc_of(v), to = desc_of(v.shape, Layout::nchw);
        const size_t count = v.shape.numel();
        const float* x = v.data.data();
        if (from != to) {
            if (plain.size() < count) plain.resize(count);
            dnnl::memory src(from, engine, const_cast<float*>(x)), dst(to, engine, plain.data());
            dnnl::reorder(src, dst).execute(stream, src, dst);
            stream.wait();
            x = plain.data();
        }
        float lo = r.lo[size_t(v.id)], hi = r.hi[size_t(v.id)];
        bool finite = true;
        for (size_t i = 0; i < count; ++i) {
            finite = finite && std::isfinite(x[i]);
            lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
        }
        if (!finite)
            throw Error("calibration: value " + std::to_string(v.id) + " (" + v.name + ") is not finite on the calibration images");
        r.lo[size_t(v.id)] = lo, r.hi[size_t(v.id)] = hi;
    };
    for (int first = 0; first < n; first += batch) {
        const int b = std::min(batch, n - first);
        net.set_batch(b);
        net.forward_observed(images + size_t(first) * per_image, observe);
    }
    for (size_t v = 0; v < values; ++v) {
        if (r.lo[v] > r.hi[v]) r.lo[v] = r.hi[v] = 0.f;  // not run in evaluation (an auxiliary head's)
    }
    return r;
}

}  // namespace googlenet
