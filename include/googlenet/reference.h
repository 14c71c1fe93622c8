// Plain loops for every op, forward and backward: the oracle the oneDNN-backed ops are tested
// against, and small enough to read as the definition of each op. Templated on the scalar so the
// tests can check their gradients by finite differences in double precision.
// Layout is dense NCHW; outputs come first in every signature; a null gradient pointer is skipped.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>

#include "googlenet/shape_rules.h"

namespace googlenet::ref {

struct Dims {
    int n, c, h, w;
    size_t at(int b, int ch, int y, int x) const { return ((size_t(b) * c + ch) * h + y) * w + x; }
    size_t numel() const { return size_t(n) * c * h * w; }
};

inline int out_size(int in, int k, int s, int p) { return window_positions(in, k, s, p); }
inline int pool_out_size(int in, int k, int s, int p, bool ceil_mode) { return window_positions(in, k, s, p, ceil_mode); }

// y = conv(x, w) + b; w is O x C x K x K; stride s, zero padding p.
template <class T>
void conv2d_forward(T* y, const T* x, const T* w, const T* b, Dims in, int out_c, int k, int s, int p) {
    const Dims out{in.n, out_c, out_size(in.h, k, s, p), out_size(in.w, k, s, p)};
    for (int n = 0; n < in.n; ++n)
        for (int o = 0; o < out_c; ++o)
            for (int oy = 0; oy < out.h; ++oy)
                for (int ox = 0; ox < out.w; ++ox) {
                    T acc = b ? b[o] : T(0);
                    for (int c = 0; c < in.c; ++c)
                        for (int ky = 0; ky < k; ++ky)
                            for (int kx = 0; kx < k; ++kx) {
                                const int iy = oy * s - p + ky, ix = ox * s - p + kx;
                                if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
                                acc += x[in.at(n, c, iy, ix)] * w[((size_t(o) * in.c + c) * k + ky) * k + kx];
                            }
                    y[out.at(n, o, oy, ox)] = acc;
                }
}

template <class T>
void conv2d_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, Dims in, int out_c,
                     int k, int s, int p) {
    const Dims out{in.n, out_c, out_size(in.h, k, s, p), out_size(in.w, k, s, p)};
    if (dx) std::fill(dx, dx + in.numel(), T(0));
    if (dw) std::fill(dw, dw + size_t(out_c) * in.c * k * k, T(0));
    if (db) std::fill(db, db + out_c, T(0));
    for (int n = 0; n < in.n; ++n)
        for (int o = 0; o < out_c; ++o)
            for (int oy = 0; oy < out.h; ++oy)
                for (int ox = 0; ox < out.w; ++ox) {
                    const T g = dy[out.at(n, o, oy, ox)];
                    if (db) db[o] += g;
                    for (int c = 0; c < in.c; ++c)
                        for (int ky = 0; ky < k; ++ky)
                            for (int kx = 0; kx < k; ++kx) {
                                const int iy = oy * s - p + ky, ix = ox * s - p + kx;
                                if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
                                const size_t wi = ((size_t(o) * in.c + c) * k + ky) * k + kx;
                                if (dw) dw[wi] += g * x[in.at(n, c, iy, ix)];
                                if (dx) dx[in.at(n, c, iy, ix)] += g * w[wi];
                            }
                }
}

template <class T>
void relu_forward(T* y, const T* x, size_t count) {
    for (size_t i = 0; i < count; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

// PyTorch's rule: the gradient passes where the output is positive.
template <class T>
void relu_backward(T* dx, const T* dy, const T* y, size_t count) {
    for (size_t i = 0; i < count; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

// Max pooling; padded cells never win (as -inf padding in PyTorch). Ties go to the first cell.
template <class T>
void max_pool_forward(T* y, const T* x, Dims in, int k, int s, int p, bool ceil_mode = false) {
    const Dims out{in.n, in.c, pool_out_size(in.h, k, s, p, ceil_mode), pool_out_size(in.w, k, s, p, ceil_mode)};
    for (int n = 0; n < in.n; ++n)
        for (int c = 0; c < in.c; ++c)
            for (int oy = 0; oy < out.h; ++oy)
                for (int ox = 0; ox < out.w; ++ox) {
                    T best = -std::numeric_limits<T>::infinity();
                    for (int ky = 0; ky < k; ++ky)
                        for (int kx = 0; kx < k; ++kx) {
                            const int iy = oy * s - p + ky, ix = ox * s - p + kx;
                            if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
                            best = std::max(best, x[in.at(n, c, iy, ix)]);
                        }
                    y[out.at(n, c, oy, ox)] = best;
                }
}

template <class T>
void max_pool_backward(T* dx, const T* dy, const T* x, Dims in, int k, int s, int p, bool ceil_mode = false) {
    const Dims out{in.n, in.c, pool_out_size(in.h, k, s, p, ceil_mode), pool_out_size(in.w, k, s, p, ceil_mode)};
    std::fill(dx, dx + in.numel(), T(0));
    for (int n = 0; n < in.n; ++n)
        for (int c = 0; c < in.c; ++c)
            for (int oy = 0; oy < out.h; ++oy)
                for (int ox = 0; ox < out.w; ++ox) {
                    size_t arg = 0;
                    T best = -std::numeric_limits<T>::infinity();
                    for (int ky = 0; ky < k; ++ky)
                        for (int kx = 0; kx < k; ++kx) {
                            const int iy = oy * s - p + ky, ix = ox * s - p + kx;
                            if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
                            const size_t i = in.at(n, c, iy, ix);
                            if (x[i] > best) best = x[i], arg = i;
                        }
                    dx[arg] += dy[out.at(n, c, oy, ox)];
                }
}

// Average pooling over kh x kw windows; padded cells count as zeros (PyTorch's default).
template <class T>
void avg_pool_forward(T* y, const T* x, Dims in, int kh, int kw, int s, int p) {
    const Dims out{in.n, in.c, out_size(in.h, kh, s, p), out_size(in.w, kw, s, p)};
    for (int n = 0; n < in.n; ++n)
        for (int c = 0; c < in.c; ++c)
            for (int oy = 0; oy < out.h; ++oy)
                for (int ox = 0; ox < out.w; ++ox) {
                    T acc = 0;
                    for (int ky = 0; ky < kh; ++ky)
                        for (int kx = 0; kx < kw; ++kx) {
                            const int iy = oy * s - p + ky, ix = ox * s - p + kx;
                            if (iy >= 0 && iy < in.h && ix >= 0 && ix < in.w) acc += x[in.at(n, c, iy, ix)];
                        }
                    y[out.at(n, c, oy, ox)] = acc / T(kh * kw);
                }
}

template <class T>
void avg_pool_backward(T* dx, const T* dy, Dims in, int kh, int kw, int s, int p) {
    const Dims out{in.n, in.c, out_size(in.h, kh, s, p), out_size(in.w, kw, s, p)};
    std::fill(dx, dx + in.numel(), T(0));
    for (int n = 0; n < in.n; ++n)
        for (int c = 0; c < in.c; ++c)
            for (int oy = 0; oy < out.h; ++oy)
                for (int ox = 0; ox < out.w; ++ox)
                    for (int ky = 0; ky < kh; ++ky)
                        for (int kx = 0; kx < kw; ++kx) {
                            const int iy = oy * s - p + ky, ix = ox * s - p + kx;
                            if (iy >= 0 && iy < in.h && ix >= 0 && ix < in.w)
                                dx[in.at(n, c, iy, ix)] += dy[out.at(n, c, oy, ox)] / T(kh * kw);
                        }
}

// Local response normalisation across channels, as PyTorch's LocalResponseNorm (and the paper):
// y_c = x_c / (k + alpha/size * sum of x_j^2 over channels j in [c - size/2, c + (size-1)/2])^beta.
template <class T>
T lrn_scale(const T* x, Dims in, int n, int c, int y, int xx, int size, T alpha, T k) {
    T sum = 0;
    for (int j = c - size / 2; j <= c + (size - 1) / 2; ++j)
        if (j >= 0 && j < in.c) sum += x[in.at(n, j, y, xx)] * x[in.at(n, j, y, xx)];
    return k + alpha / T(size) * sum;
}

template <class T>
void lrn_forward(T* y, const T* x, Dims in, int size, T alpha, T beta, T k) {
    for (int n = 0; n < in.n; ++n)
        for (int c = 0; c < in.c; ++c)
            for (int h = 0; h < in.h; ++h)
                for (int w = 0; w < in.w; ++w)
                    y[in.at(n, c, h, w)] = x[in.at(n, c, h, w)] * std::pow(lrn_scale(x, in, n, c, h, w, size, alpha, k), -beta);
}

// dx_j = dy_j s_j^-beta - 2 alpha beta / size * x_j * sum over the i whose window holds j of dy_i x_i s_i^(-beta-1).
template <class T>
void lrn_backward(T* dx, const T* dy, const T* x, Dims in, int size, T alpha, T beta, T k) {
    for (int n = 0; n < in.n; ++n)
        for (int h = 0; h < in.h; ++h)
            for (int w = 0; w < in.w; ++w)
                for (int j = 0; j < in.c; ++j) {
                    const size_t at = in.at(n, j, h, w);
                    T acc = dy[at] * std::pow(lrn_scale(x, in, n, j, h, w, size, alpha, k), -beta);
                    for (int i = j - (size - 1) / 2; i <= j + size / 2; ++i) {
                        if (i < 0 || i >= in.c) continue;
                        const size_t ai = in.at(n, i, h, w);
                        acc -= T(2) * alpha * beta / T(size) * x[at] * dy[ai] * x[ai] *
                               std::pow(lrn_scale(x, in, n, i, h, w, size, alpha, k), -beta - T(1));
                    }
                    dx[at] = acc;
                }
}

// Channel c's batch mean over (n, h, w), and 1 / sqrt(biased variance + eps).
template <class T>
void batch_norm_stats(const T* x, Dims in, int c, T eps, T& mean, T& inv) {
    const T m = T(in.n) * in.h * in.w;
    T sum = 0, var = 0;
    for (int n = 0; n < in.n; ++n)
        for (int i = 0; i < in.h * in.w; ++i) sum += x[in.at(n, c, 0, 0) + size_t(i)];
    mean = sum / m;
    for (int n = 0; n < in.n; ++n)
        for (int i = 0; i < in.h * in.w; ++i) {
            const T d = x[in.at(n, c, 0, 0) + size_t(i)] - mean;
            var += d * d;
        }
    inv = T(1) / std::sqrt(var / m + eps);
}

// Batch normalisation in training mode: each channel normalised by its batch mean and biased
// variance over (n, h, w), then scaled by w and shifted by b (PyTorch's BatchNorm2d in train()).
template <class T>
void batch_norm_forward(T* y, const T* x, const T* w, const T* b, Dims in, T eps) {
    for (int c = 0; c < in.c; ++c) {
        T mean, inv;
        batch_norm_stats(x, in, c, eps, mean, inv);
        for (int n = 0; n < in.n; ++n)
            for (int i = 0; i < in.h * in.w; ++i) {
                const size_t at = in.at(n, c, 0, 0) + size_t(i);
                y[at] = (x[at] - mean) * inv * w[c] + b[c];
            }
    }
}

// dx = w inv / M (M dy - sum dy - xhat sum(dy xhat)), dw = sum(dy xhat), db = sum(dy), per channel.
template <class T>
void batch_norm_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, Dims in, T eps) {
    const T m = T(in.n) * in.h * in.w;
    for (int c = 0; c < in.c; ++c) {
        T mean, inv;
        batch_norm_stats(x, in, c, eps, mean, inv);
        T sum_dy = 0, sum_dy_xhat = 0;
        for (int n = 0; n < in.n; ++n)
            for (int i = 0; i < in.h * in.w; ++i) {
                const size_t at = in.at(n, c, 0, 0) + size_t(i);
                sum_dy += dy[at];
                sum_dy_xhat += dy[at] * (x[at] - mean) * inv;
            }
        if (dw) dw[c] = sum_dy_xhat;
        if (db) db[c] = sum_dy;
        if (dx)
            for (int n = 0; n < in.n; ++n)
                for (int i = 0; i < in.h * in.w; ++i) {
                    const size_t at = in.at(n, c, 0, 0) + size_t(i);
                    dx[at] = w[c] * inv / m * (m * dy[at] - sum_dy - (x[at] - mean) * inv * sum_dy_xhat);
                }
    }
}

// Adaptive average pooling to out_h x out_w (PyTorch's AdaptiveAvgPool2d): output cell i averages
// input rows [floor(i H / out_h), ceil((i + 1) H / out_h)), and likewise for columns; the windows
// may overlap and differ in size.
// The input range [begin, end) that output cell o of `out` averages over an axis of `in`.
inline std::pair<int, int> adaptive_window(int o, int in, int out) { return {o * in / out, ((o + 1) * in + out - 1) / out}; }

template <class T>
void adaptive_avg_pool_forward(T* y, const T* x, Dims in, int out_h, int out_w) {
    for (int n = 0; n < in.n; ++n)
        for (int c = 0; c < in.c; ++c)
            for (int oy = 0; oy < out_h; ++oy)
                for (int ox = 0; ox < out_w; ++ox) {
                    const auto [y0, y1] = adaptive_window(oy, in.h, out_h);
                    const auto [x0, x1] = adaptive_window(ox, in.w, out_w);
                    T acc = 0;
                    for (int iy = y0; iy < y1; ++iy)
                        for (int ix = x0; ix < x1; ++ix) acc += x[in.at(n, c, iy, ix)];
                    y[((size_t(n) * in.c + c) * out_h + oy) * out_w + ox] = acc / T((y1 - y0) * (x1 - x0));
                }
}

template <class T>
void adaptive_avg_pool_backward(T* dx, const T* dy, Dims in, int out_h, int out_w) {
    std::fill(dx, dx + in.numel(), T(0));
    for (int n = 0; n < in.n; ++n)
        for (int c = 0; c < in.c; ++c)
            for (int oy = 0; oy < out_h; ++oy)
                for (int ox = 0; ox < out_w; ++ox) {
                    const auto [y0, y1] = adaptive_window(oy, in.h, out_h);
                    const auto [x0, x1] = adaptive_window(ox, in.w, out_w);
                    const T g = dy[((size_t(n) * in.c + c) * out_h + oy) * out_w + ox] / T((y1 - y0) * (x1 - x0));
                    for (int iy = y0; iy < y1; ++iy)
                        for (int ix = x0; ix < x1; ++ix) dx[in.at(n, c, iy, ix)] += g;
                }
}

// Per-channel normalisation y = (x - mean[c]) / stddev[c]: an input's mean subtraction, as
// Caffe-trained networks take it.
template <class T>
void normalize_forward(T* y, const T* x, const float* mean, const float* stddev, Dims d) {
    for (int n = 0; n < d.n; ++n)
        for (int c = 0; c < d.c; ++c)
            for (int i = 0; i < d.h * d.w; ++i) y[d.at(n, c, 0, 0) + size_t(i)] = (x[d.at(n, c, 0, 0) + size_t(i)] - T(mean[c])) / T(stddev[c]);
}

template <class T>
void normalize_backward(T* dx, const T* dy, const float* stddev, Dims d) {
    for (int n = 0; n < d.n; ++n)
        for (int c = 0; c < d.c; ++c)
            for (int i = 0; i < d.h * d.w; ++i) dx[d.at(n, c, 0, 0) + size_t(i)] = dy[d.at(n, c, 0, 0) + size_t(i)] / T(stddev[c]);
}

// y = x w^T + b, x is n x in (a flattened NCHW tensor), w is out x in.
template <class T>
void linear_forward(T* y, const T* x, const T* w, const T* b, int n, int in, int out) {
    for (int i = 0; i < n; ++i)
        for (int o = 0; o < out; ++o) {
            T acc = b ? b[o] : T(0);
            for (int j = 0; j < in; ++j) acc += x[size_t(i) * in + j] * w[size_t(o) * in + j];
            y[size_t(i) * out + o] = acc;
        }
}

template <class T>
void linear_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, int n, int in, int out) {
    if (dx) std::fill(dx, dx + size_t(n) * in, T(0));
    if (dw) std::fill(dw, dw + size_t(out) * in, T(0));
    if (db) std::fill(db, db + out, T(0));
    for (int i = 0; i < n; ++i)
        for (int o = 0; o < out; ++o) {
            const T g = dy[size_t(i) * out + o];
            if (db) db[o] += g;
            for (int j = 0; j < in; ++j) {
                if (dw) dw[size_t(o) * in + j] += g * x[size_t(i) * in + j];
                if (dx) dx[size_t(i) * in + j] += g * w[size_t(o) * in + j];
            }
        }
}

// Channel concatenation of `count` tensors with the same n, h, w; channels[i] is input i's C.
template <class T>
void concat_forward(T* y, const T* const* xs, const int* channels, int count, int n, int hw) {
    int total = 0;
    for (int i = 0; i < count; ++i) total += channels[i];
    for (int b = 0; b < n; ++b) {
        size_t off = size_t(b) * total * hw;
        for (int i = 0; i < count; ++i) {
            const size_t len = size_t(channels[i]) * hw;
            std::copy(xs[i] + b * len, xs[i] + (b + 1) * len, y + off);
            off += len;
        }
    }
}

template <class T>
void concat_backward(T* const* dxs, const T* dy, const int* channels, int count, int n, int hw) {
    int total = 0;
    for (int i = 0; i < count; ++i) total += channels[i];
    for (int b = 0; b < n; ++b) {
        size_t off = size_t(b) * total * hw;
        for (int i = 0; i < count; ++i) {
            const size_t len = size_t(channels[i]) * hw;
            std::copy(dy + off, dy + off + len, dxs[i] + b * len);
            off += len;
        }
    }
}

// Mean softmax cross-entropy of n rows of k logits; dlogits may be null.
template <class T>
T softmax_cross_entropy(T* dlogits, const T* logits, const int* labels, int n, int k) {
    T total = 0;
    for (int i = 0; i < n; ++i) {
        const T* z = logits + size_t(i) * k;
        const T m = *std::max_element(z, z + k);
        T sum = 0;
        for (int j = 0; j < k; ++j) sum += std::exp(z[j] - m);
        const T lse = std::log(sum) + m;
        total += lse - z[labels[i]];
        if (dlogits)
            for (int j = 0; j < k; ++j)
                dlogits[size_t(i) * k + j] = (std::exp(z[j] - lse) - (j == labels[i] ? T(1) : T(0))) / T(n);
    }
    return total / T(n);
}

}  // namespace googlenet::ref
