#include "ops/winograd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <omp.h>

namespace googlenet {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

// Each thread takes a chunk of tiles through input transform, matmul and output transform on its
// own, so the chunk's transformed tiles and products (about this many bytes) stay in that core's
// L2 cache from one step to the next.
constexpr size_t kChunkBytes = size_t(768) << 10;

struct Tile {
    int n, i, j;  // image, tile row, tile column
};

Tile tile_of(long t, int tiles_h, int tiles_w) {
    const long per_image = long(tiles_h) * tiles_w;
    const int n = int(t / per_image), r = int(t % per_image);
    return {n, r / tiles_w, r % tiles_w};
}

// One 4x4 input tile of L channels: V = B^T d B, scattered to V[xi][row][c].
template <int L>
__attribute__((always_inline)) inline void input_tile(const float* src, int h, int w, Tile tl, float* v, size_t xi_stride) {
    float d[4][4][L];
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) {
            const int sh = 2 * tl.i - 1 + y, sw = 2 * tl.j - 1 + x;
            if (sh < 0 || sh >= h || sw < 0 || sw >= w)
                for (int l = 0; l < L; ++l) d[y][x][l] = 0.f;
            else
                for (int l = 0; l < L; ++l) d[y][x][l] = src[(size_t(sh) * w + sw) * L + l];
        }
    float t[4][4][L];
    for (int x = 0; x < 4; ++x)
        for (int l = 0; l < L; ++l) {
            t[0][x][l] = d[0][x][l] - d[2][x][l];
            t[1][x][l] = d[1][x][l] + d[2][x][l];
            t[2][x][l] = d[2][x][l] - d[1][x][l];
            t[3][x][l] = d[1][x][l] - d[3][x][l];
        }
    for (int y = 0; y < 4; ++y)
        for (int l = 0; l < L; ++l) {
            v[(4 * y + 0) * xi_stride + size_t(l)] = t[y][0][l] - t[y][2][l];
            v[(4 * y + 1) * xi_stride + size_t(l)] = t[y][1][l] + t[y][2][l];
            v[(4 * y + 2) * xi_stride + size_t(l)] = t[y][2][l] - t[y][1][l];
            v[(4 * y + 3) * xi_stride + size_t(l)] = t[y][1][l] - t[y][3][l];
        }
}

// One tile's 2x2 outputs of L channels: Y = A^T M A, plus bias, then ReLU if fused.
template <int L>
__attribute__((always_inline)) inline void output_tile(const float* m, size_t xi_stride, const float* bias, bool relu, float* dst, int h, int w, Tile tl) {
    float t[2][4][L];
    for (int x = 0; x < 4; ++x)
        for (int l = 0; l < L; ++l) {
            const float m0 = m[(0 + x) * xi_stride + size_t(l)], m1 = m[(4 + x) * xi_stride + size_t(l)],
                        m2 = m[(8 + x) * xi_stride + size_t(l)], m3 = m[(12 + x) * xi_stride + size_t(l)];
            t[0][x][l] = m0 + m1 + m2;
            t[1][x][l] = m1 - m2 - m3;
        }
    for (int r = 0; r < 2; ++r) {
        const int oh = 2 * tl.i + r;
        if (oh >= h) break;
        for (int s = 0; s < 2; ++s) {
            const int ow = 2 * tl.j + s;
            if (ow >= w) break;
            float* out = dst + (size_t(oh) * w + ow) * L;
            for (int l = 0; l < L; ++l) {
                float y = s == 0 ? t[r][0][l] + t[r][1][l] + t[r][2][l] : t[r][1][l] - t[r][2][l] - t[r][3][l];
                y += bias[l];
                out[l] = relu && y < 0.f ? 0.f : y;
            }
        }
    }
}

// One tile's output gradient, 2x2 of L channels (zero outside the map): dM = A dY A^T, scattered
// to dM[xi][row][k].
template <int L>
__attribute__((always_inline)) inline void output_grad_tile(const float* dy, int h, int w, Tile tl, float* dm, size_t xi_stride) {
    float g[2][2][L];
    for (int r = 0; r < 2; ++r)
        for (int s = 0; s < 2; ++s) {
            const int oh = 2 * tl.i + r, ow = 2 * tl.j + s;
            if (oh >= h || ow >= w)
                for (int l = 0; l < L; ++l) g[r][s][l] = 0.f;
            else
                for (int l = 0; l < L; ++l) g[r][s][l] = dy[(size_t(oh) * w + ow) * L + l];
        }
    float a[4][2][L];  // A dY
    for (int s = 0; s < 2; ++s)
        for (int l = 0; l < L; ++l) {
            a[0][s][l] = g[0][s][l];
            a[1][s][l] = g[0][s][l] + g[1][s][l];
            a[2][s][l] = g[0][s][l] - g[1][s][l];
            a[3][s][l] = -g[1][s][l];
        }
    for (int y = 0; y < 4; ++y)
        for (int l = 0; l < L; ++l) {
            dm[(4 * y + 0) * xi_stride + size_t(l)] = a[y][0][l];
            dm[(4 * y + 1) * xi_stride + size_t(l)] = a[y][0][l] + a[y][1][l];
            dm[(4 * y + 2) * xi_stride + size_t(l)] = a[y][0][l] - a[y][1][l];
            dm[(4 * y + 3) * xi_stride + size_t(l)] = -a[y][1][l];
        }
}

// Compiled once per instruction set (and picked at run time) so that the lane loops become
// AVX-512 or AVX2 vectors on machines that have them, without building for one CPU.
__attribute__((target_clones("avx512f", "avx2", "default"))) void input_tile_any(int lanes, const float* src, int h, int w,
                                                                               Tile tl, float* v, size_t xi_stride) {
    if (lanes == 16)
        input_tile<16>(src, h, w, tl, v, xi_stride);
    else
        input_tile<8>(src, h, w, tl, v, xi_stride);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void output_tile_any(int lanes, const float* m, size_t xi_stride,
                                                                                const float* bias, bool relu, float* dst,
                                                                                int h, int w, Tile tl) {
    if (lanes == 16)
        output_tile<16>(m, xi_stride, bias, relu, dst, h, w, tl);
    else
        output_tile<8>(m, xi_stride, bias, relu, dst, h, w, tl);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void output_grad_tile_any(int lanes, const float* dy, int h, int w,
                                                                                     Tile tl, float* dm, size_t xi_stride) {
    if (lanes == 16)
        output_grad_tile<16>(dy, h, w, tl, dm, xi_stride);
    else
        output_grad_tile<8>(dy, h, w, tl, dm, xi_stride);
}

}  // namespace

bool WinogradConv::applies(int kernel, int stride, int pad, Layout src, Layout dst, const Shape& out) {
    if (const char* env = std::getenv("GOOGLENET_WINOGRAD"); env && std::string(env) == "0") return false;
    if (kernel != 3 || stride != 1 || pad != 1 || src != Layout::blocked || dst != Layout::blocked) return false;
    // 2x2 tiles over a map with odd sides compute outputs that are thrown away: on 3x3 maps 7 of
    // 16, and there the direct kernel is faster (0.73x at batch 128); on 6x6 and larger, none.
    const double used = double(out.h) * out.w / (4.0 * ((out.h + 1) / 2) * ((out.w + 1) / 2));
    return used >= 0.75;
}

void WinogradConv::prepare(Runtime& rt, const Shape& in, const Shape& out, bool relu) {
    in_ = in, out_ = out, relu_ = relu;
    lanes_ = channel_block();
    bias_padded_.assign(size_t((out.c + lanes_ - 1) / lanes_ * lanes_), 0.f);
    cp_ = (in.c + lanes_ - 1) / lanes_ * lanes_;
    kp_ = (out.c + lanes_ - 1) / lanes_ * lanes_;
    tiles_h_ = (out.h + 1) / 2, tiles_w_ = (out.w + 1) / 2;
    tiles_ = long(out.n) * tiles_h_ * tiles_w_;
    // Even chunks, a multiple of the thread count: a last chunk of a few tiles would cost a whole
    // chunk's matmul, and a thread left without a chunk would idle.
    threads_ = std::max(1, omp_get_max_threads());
    const long most = std::clamp<long>(long(kChunkBytes / (16 * sizeof(float) * size_t(cp_ + kp_))), 4, tiles_);
    // With few tiles (small maps at small batches) a chunk per thread would give each matmul a
    // handful of rows; then all threads share each chunk (transforms split over tiles, the matmul
    // over its 16 products), in chunks of up to four times the size.
    per_thread_ = tiles_ >= long(threads_) * 64;
    long chunks = per_thread_ ? std::max<long>((tiles_ + most - 1) / most, threads_) : (tiles_ + 4 * most - 1) / (4 * most);
    if (per_thread_) chunks = (chunks + threads_ - 1) / threads_ * threads_;
    chunk_ = int(std::max<long>((tiles_ + chunks - 1) / chunks, 1));
    rt.transient(0, std::max(size_t(threads_) * 16 * size_t(chunk_) * size_t(cp_), size_t(16) * size_t(cp_) * size_t(kp_)));
    rt.transient(1, size_t(threads_) * 16 * size_t(chunk_) * size_t(kp_));
    rt.transient(2, size_t(threads_) * 16 * size_t(cp_) * size_t(kp_));  // backward_weights' sums
    const memory::dim b = 16, rows = chunk_, c = cp_, k = kp_;
    v_md_ = memory::desc({b, rows, c}, memory::data_type::f32, tag::abc);
    m_md_ = memory::desc({b, rows, k}, memory::data_type::f32, tag::abc);
    const memory::desc u_any({b, c, k}, memory::data_type::f32, tag::any);
    // Each thread runs the matmul on its own chunk (inside the parallel region oneDNN runs it on
    // the calling thread), so each needs its own scratchpad and stream.
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    auto pd = dnnl::matmul::primitive_desc(rt.engine, v_md_, u_any, m_md_, attr);
    matmul_ = dnnl::matmul(pd);
    u_ = memory(pd.weights_desc(), rt.engine);
    // dU[xi] += V[xi]^T dM[xi]: V read transposed in place, products summed into each thread's dU.
    vt_md_ = memory::desc({b, c, rows}, memory::data_type::f32, memory::dims{rows * c, 1, c});
    du_md_ = memory::desc({b, c, k}, memory::data_type::f32, tag::abc);
    dnnl::post_ops sum;
    sum.append_sum(1.f);
    dnnl::primitive_attr dw_attr;
    dw_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dw_attr.set_post_ops(sum);
    auto dw_pd = dnnl::matmul::primitive_desc(rt.engine, vt_md_, m_md_, du_md_, dw_attr);
    dweights_matmul_ = dnnl::matmul(dw_pd);
    scratchpads_.clear();
    dweights_scratchpads_.clear();
    streams_.clear();
    for (int t = 0; t < threads_; ++t) {
        scratchpads_.emplace_back(pd.scratchpad_desc(), rt.engine);
        dweights_scratchpads_.emplace_back(dw_pd.scratchpad_desc(), rt.engine);
        streams_.emplace_back(rt.engine);
    }
}

// U = G g G^T for every (output, input) channel pair, as 16 matrices U[xi] of cp x kp.
void WinogradConv::set_weights(Runtime& rt, const float* weights, bool backward_data) {
    const int C = in_.c, K = out_.c;
    float* u = rt.transient(0, size_t(16) * size_t(cp_) * size_t(kp_));
    std::fill(u, u + size_t(16) * size_t(cp_) * size_t(kp_), 0.f);  // the padding channels' entries stay zero
    const size_t xi_stride = size_t(cp_) * size_t(kp_);
#pragma omp parallel for
    for (int k = 0; k < K; ++k)
        for (int c = 0; c < C; ++c) {
            float g[9];
            if (backward_data)  // weights are (C x K x 3 x 3) of the forward: take [c][k], rotated 180 degrees
                for (int i = 0; i < 9; ++i) g[i] = weights[(size_t(c) * K + size_t(k)) * 9 + size_t(8 - i)];
            else
                std::memcpy(g, weights + (size_t(k) * C + size_t(c)) * 9, sizeof g);
            float gg[4][3];  // G g
            for (int x = 0; x < 3; ++x) {
                gg[0][x] = g[x];
                gg[1][x] = 0.5f * (g[x] + g[3 + x] + g[6 + x]);
                gg[2][x] = 0.5f * (g[x] - g[3 + x] + g[6 + x]);
                gg[3][x] = g[6 + x];
            }
            for (int y = 0; y < 4; ++y) {
                const float r[4] = {gg[y][0], 0.5f * (gg[y][0] + gg[y][1] + gg[y][2]), 0.5f * (gg[y][0] - gg[y][1] + gg[y][2]),
                                    gg[y][2]};
                for (int x = 0; x < 4; ++x) u[size_t(4 * y + x) * xi_stride + size_t(c) * size_t(kp_) + size_t(k)] = r[x];
            }
        }
    const memory::desc plain({16, cp_, kp_}, memory::data_type::f32, tag::abc);
    auto from = rt.mem(plain, u);
    dnnl::reorder(from, u_).execute(rt.stream, from, u_);
}

// Tile `t0 + t` of the input, every channel block, into row t of the chunk's V.
void WinogradConv::input_tile_row(const float* src, long t0, int t, float* v) const {
    const int L = lanes_, h = in_.h, w = in_.w;
    const size_t plane = size_t(h) * size_t(w) * size_t(L), image = size_t(cp_ / L) * plane;
    const Tile tl = tile_of(t0 + t, tiles_h_, tiles_w_);
    for (int cb = 0; cb < cp_ / L; ++cb)
        input_tile_any(L, src + size_t(tl.n) * image + size_t(cb) * plane, h, w, tl, v + size_t(t) * size_t(cp_) + size_t(cb) * size_t(L),
                       size_t(chunk_) * size_t(cp_));
}

// Runs body(thread, first tile, tile count, V, M) for every chunk, each thread on whole chunks with
// its own part of the transient buffers.
template <class Body>
void WinogradConv::each_chunk_per_thread(float* v_all, float* m_all, const Body& body) const {
    const size_t v_size = size_t(16) * size_t(chunk_) * size_t(cp_), m_size = size_t(16) * size_t(chunk_) * size_t(kp_);
    const long chunks = (tiles_ + chunk_ - 1) / chunk_;
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (long ch = 0; ch < chunks; ++ch) {
        const int me = omp_get_thread_num();
        const long t0 = ch * chunk_;
        body(me, t0, int(std::min<long>(chunk_, tiles_ - t0)), v_all + size_t(me) * v_size, m_all + size_t(me) * m_size);
    }
}

void WinogradConv::forward(Runtime& rt, const float* src, const float* bias, float* dst) {
    const int L = lanes_, kb_count = kp_ / L;
    const size_t dst_image = size_t(kb_count) * size_t(out_.h) * size_t(out_.w) * size_t(L);
    if (bias) std::copy(bias, bias + out_.c, bias_padded_.begin());  // the padding channels' entries stay zero
    const size_t v_xi = size_t(chunk_) * size_t(cp_), m_xi = size_t(chunk_) * size_t(kp_);
    float* v_all = rt.transient(0, size_t(threads_) * 16 * v_xi);
    float* m_all = rt.transient(1, size_t(threads_) * 16 * m_xi);
    const long chunks = (tiles_ + chunk_ - 1) / chunk_;
    auto output_transform = [&](long t0, int t, const float* m) {
        const Tile tl = tile_of(t0 + t, tiles_h_, tiles_w_);
        for (int kb = 0; kb < kb_count; ++kb) {
            float* image = dst + size_t(tl.n) * dst_image + size_t(kb) * size_t(out_.h) * size_t(out_.w) * size_t(L);
            output_tile_any(L, m + size_t(t) * size_t(kp_) + size_t(kb) * size_t(L), m_xi, bias_padded_.data() + size_t(kb) * size_t(L),
                            relu_, image, out_.h, out_.w, tl);
        }
    };
    // Rows past `count` in a short last chunk hold what an earlier chunk left: finite values whose
    // products are never read.
    auto matmul = [&](dnnl::stream& stream, float* v, float* m, int me) {
        matmul_.execute(stream, {{DNNL_ARG_SRC, rt.mem(v_md_, v)}, {DNNL_ARG_WEIGHTS, u_}, {DNNL_ARG_DST, rt.mem(m_md_, m)},
                                 {DNNL_ARG_SCRATCHPAD, scratchpads_[size_t(me)]}});
    };
    if (!per_thread_) {
        for (long ch = 0; ch < chunks; ++ch) {
            const long t0 = ch * chunk_;
            const int count = int(std::min<long>(chunk_, tiles_ - t0));
#pragma omp parallel for
            for (int t = 0; t < count; ++t) input_tile_row(src, t0, t, v_all);
            matmul(rt.stream, v_all, m_all, 0);
#pragma omp parallel for
            for (int t = 0; t < count; ++t) output_transform(t0, t, m_all);
        }
        return;
    }
    each_chunk_per_thread(v_all, m_all, [&](int me, long t0, int count, float* v, float* m) {
        for (int t = 0; t < count; ++t) input_tile_row(src, t0, t, v);
        matmul(streams_[size_t(me)], v, m, me);
        for (int t = 0; t < count; ++t) output_transform(t0, t, m);
    });
}

void WinogradConv::backward_weights(Runtime& rt, const float* src, const float* diff_dst, float* diff_weights, float* diff_bias) {
    const int L = lanes_, kb_count = kp_ / L;
    const size_t dst_plane = size_t(out_.h) * size_t(out_.w) * size_t(L), dst_image = size_t(kb_count) * dst_plane;
    const size_t v_xi = size_t(chunk_) * size_t(cp_), m_xi = size_t(chunk_) * size_t(kp_), du_size = size_t(16) * size_t(cp_) * size_t(kp_);
    float* v_all = rt.transient(0, size_t(threads_) * 16 * v_xi);
    float* m_all = rt.transient(1, size_t(threads_) * 16 * m_xi);
    float* du_all = rt.transient(2, size_t(threads_) * du_size);
    std::fill(du_all, du_all + size_t(threads_) * du_size, 0.f);
    each_chunk_per_thread(v_all, m_all, [&](int me, long t0, int count, float* v, float* dm) {
        for (int t = 0; t < count; ++t) {
            input_tile_row(src, t0, t, v);
            const Tile tl = tile_of(t0 + t, tiles_h_, tiles_w_);
            for (int kb = 0; kb < kb_count; ++kb)
                output_grad_tile_any(L, diff_dst + size_t(tl.n) * dst_image + size_t(kb) * dst_plane, out_.h, out_.w, tl,
                                     dm + size_t(t) * size_t(kp_) + size_t(kb) * size_t(L), m_xi);
        }
        for (int xi = 0; xi < 16 && count < chunk_; ++xi) {  // a short chunk's other rows must add nothing
            std::fill(v + size_t(xi) * v_xi + size_t(count) * size_t(cp_), v + size_t(xi + 1) * v_xi, 0.f);
            std::fill(dm + size_t(xi) * m_xi + size_t(count) * size_t(kp_), dm + size_t(xi + 1) * m_xi, 0.f);
        }
        dweights_matmul_.execute(streams_[size_t(me)], {{DNNL_ARG_SRC, rt.mem(vt_md_, v)},
                                                        {DNNL_ARG_WEIGHTS, rt.mem(m_md_, dm)},
                                                        {DNNL_ARG_DST, rt.mem(du_md_, du_all + size_t(me) * du_size)},
                                                        {DNNL_ARG_SCRATCHPAD, dweights_scratchpads_[size_t(me)]}});
    });
    const int C = in_.c, K = out_.c;
#pragma omp parallel for
    for (int k = 0; k < K; ++k)
        for (int c = 0; c < C; ++c) {
            float du[16];
            for (int xi = 0; xi < 16; ++xi) {
                float total = 0.f;
                for (int t = 0; t < threads_; ++t)
                    total += du_all[size_t(t) * du_size + size_t(xi) * size_t(cp_) * size_t(kp_) + size_t(c) * size_t(kp_) + size_t(k)];
                du[xi] = total;
            }
            float gu[3][4];  // G^T dU
            for (int x = 0; x < 4; ++x) {
                gu[0][x] = du[x] + 0.5f * (du[4 + x] + du[8 + x]);
                gu[1][x] = 0.5f * (du[4 + x] - du[8 + x]);
                gu[2][x] = 0.5f * (du[4 + x] + du[8 + x]) + du[12 + x];
            }
            float* g = diff_weights + (size_t(k) * C + size_t(c)) * 9;
            for (int y = 0; y < 3; ++y) {  // (G^T dU) G
                g[3 * y + 0] = gu[y][0] + 0.5f * (gu[y][1] + gu[y][2]);
                g[3 * y + 1] = 0.5f * (gu[y][1] - gu[y][2]);
                g[3 * y + 2] = 0.5f * (gu[y][1] + gu[y][2]) + gu[y][3];
            }
        }
    if (!diff_bias) return;
#pragma omp parallel for
    for (int kb = 0; kb < kb_count; ++kb) {
        double acc[16] = {};
        for (int n = 0; n < out_.n; ++n) {
            const float* p = diff_dst + size_t(n) * dst_image + size_t(kb) * dst_plane;
            for (size_t i = 0; i < dst_plane; i += size_t(L))
                for (int l = 0; l < L; ++l) acc[l] += p[i + size_t(l)];
        }
        for (int l = 0; l < L && kb * L + l < K; ++l) diff_bias[kb * L + l] = float(acc[l]);
    }
}

}  // namespace googlenet
