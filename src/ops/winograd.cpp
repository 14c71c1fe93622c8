#include "ops/winograd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <omp.h>
#include <string>

#include "ops/winograd_transforms.h"

namespace googlenet {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using winograd::Transforms;

// Each thread takes a chunk of tiles through input transform, matmul and output transform on its
// own, so the chunk's transformed tiles and products (about this many bytes) stay in that core's
// L2 cache from one step to the next.
constexpr size_t kChunkBytes = size_t(768) << 10;

// The largest alpha the forward takes (F(4x4, 3x3); see tile_for).
constexpr int kForwardAlpha = 6;
// 5x5 kernels: the most multiplies per output worth their transforms (the direct method does 25,
// fewer on small maps, where it skips the padding's), and the least channels and map size: with
// fewer the transforms outweigh the saved multiplies (bench/winograd_vs_direct; the figures are in
// docs/performance.md, "Figures behind the code's choices").
constexpr double kKernel5Limit = 9;
constexpr int kKernel5Channels = 32, kKernel5Map = 12;

// L channels as one value: GCC's vector extension, so the transforms are vector code on every
// instruction set without depending on the auto-vectorizer (which turned the F(2x2) output
// transform into scalar code). Memory is read and written through load/store: rows of L floats
// need not be aligned to the vector's size.
template <int L>
struct ChannelVector {
    typedef float type __attribute__((vector_size(L * sizeof(float))));
};

// Vectors passed by value only between always_inline functions: no call crosses the ABI that
// GCC's -Wpsabi note is about.
#pragma GCC diagnostic ignored "-Wpsabi"
template <class V>
__attribute__((always_inline)) inline V load(const float* p) {
    V v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

template <class V>
__attribute__((always_inline)) inline void store(float* p, const V& v) {
    __builtin_memcpy(p, &v, sizeof v);
}

// out[i] = sum_j mat(i, j) in[j], with in[j] at in + j * is and out[i] at out + i * os (strides in
// vectors). mat is a constexpr matrix: unrolled, its zeros and ones cost nothing.
template <int R, int C, class V, class Mat>
__attribute__((always_inline)) inline void apply(Mat mat, const V* in, size_t is, V* out, size_t os) {
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
        V acc = {};
        bool first = true;
#pragma GCC unroll 8
        for (int j = 0; j < C; ++j) {
            const float a = mat(i, j);
            if (a == 0.f) continue;
            const V x = in[size_t(j) * is];
            const V ax = a == 1.f ? x : a == -1.f ? -x : a * x;
            acc = first ? ax : acc + ax;
            first = false;
        }
        out[size_t(i) * os] = acc;
    }
}

struct Tile {
    int n, i, j;  // image, tile row, tile column
};

Tile tile_of(long t, int tiles_h, int tiles_w) {
    const long per_image = long(tiles_h) * tiles_w;
    const int n = int(t / per_image), r = int(t % per_image);
    return {n, r / tiles_w, r % tiles_w};
}

// One alpha^2 input tile of L channels (the map padded by r / 2): V = B^T d B, scattered to V[xi][row][c].
template <int M, int R, int L>
__attribute__((always_inline)) inline void input_tile(const float* src, int h, int w, Tile tl, float* v, size_t xi_stride) {
    using V = typename ChannelVector<L>::type;
    constexpr int A = Transforms<M, R>::A;
    const auto bt = [](int i, int j) { return Transforms<M, R>::BT[i][j]; };
    V d[A][A];
    const int top = M * tl.i - R / 2, left = M * tl.j - R / 2;
    if (top >= 0 && left >= 0 && top + A <= h && left + A <= w) {  // inside the map: no padding to test for
        const float* p = src + (size_t(top) * w + size_t(left)) * L;
        for (int y = 0; y < A; ++y)
            for (int x = 0; x < A; ++x) d[y][x] = load<V>(p + (size_t(y) * w + size_t(x)) * L);
    } else {
        for (int y = 0; y < A; ++y)
            for (int x = 0; x < A; ++x) {
                const int sh = top + y, sw = left + x;
                d[y][x] = sh < 0 || sh >= h || sw < 0 || sw >= w ? V{} : load<V>(src + (size_t(sh) * w + sw) * L);
            }
    }
    V t[A][A], row[A];  // B^T d, then one row of (B^T d) B
    for (int x = 0; x < A; ++x) apply<A, A>(bt, &d[0][x], A, &t[0][x], A);
    for (int y = 0; y < A; ++y) {
        apply<A, A>(bt, &t[y][0], 1, row, 1);
        for (int x = 0; x < A; ++x) store(v + size_t(A * y + x) * xi_stride, row[x]);
    }
}

// One tile's m x m outputs of L channels: Y = A^T M A, plus bias, then ReLU if fused.
template <int M, int R, int L>
__attribute__((always_inline)) inline void output_tile(const float* m, size_t xi_stride, const float* bias, bool relu, float* dst, int h, int w, Tile tl) {
    using V = typename ChannelVector<L>::type;
    constexpr int A = Transforms<M, R>::A;
    const auto at = [](int i, int j) { return Transforms<M, R>::AT[i][j]; };
    V t[M][A], column[A];  // A^T M
    for (int x = 0; x < A; ++x) {
        for (int y = 0; y < A; ++y) column[y] = load<V>(m + size_t(A * y + x) * xi_stride);
        apply<M, A>(at, column, 1, &t[0][x], A);
    }
    V y[M][M];
    for (int r = 0; r < M; ++r) apply<M, A>(at, &t[r][0], 1, &y[r][0], 1);
    const V b = load<V>(bias), zero = {};
    for (int r = 0; r < M && M * tl.i + r < h; ++r)
        for (int s = 0; s < M && M * tl.j + s < w; ++s) {
            const V z = y[r][s] + b;
            store(dst + (size_t(M * tl.i + r) * w + size_t(M * tl.j + s)) * L, relu ? (z > zero ? z : zero) : z);
        }
}

// One tile's output gradient, m x m of L channels (zero outside the map): dM = A dY A^T,
// scattered to dM[xi][row][k].
template <int M, int R, int L>
__attribute__((always_inline)) inline void output_grad_tile(const float* dy, int h, int w, Tile tl, float* dm, size_t xi_stride) {
    using V = typename ChannelVector<L>::type;
    constexpr int A = Transforms<M, R>::A;
    const auto a_mat = [](int i, int j) { return Transforms<M, R>::AT[j][i]; };
    V g[M][M];
    for (int r = 0; r < M; ++r)
        for (int s = 0; s < M; ++s) {
            const int oh = M * tl.i + r, ow = M * tl.j + s;
            g[r][s] = oh >= h || ow >= w ? V{} : load<V>(dy + (size_t(oh) * w + ow) * L);
        }
    V a[A][M], row[A];  // A dY, then one row of (A dY) A^T
    for (int s = 0; s < M; ++s) apply<A, M>(a_mat, &g[0][s], M, &a[0][s], M);
    for (int y = 0; y < A; ++y) {
        apply<A, M>(a_mat, &a[y][0], 1, row, 1);
        for (int x = 0; x < A; ++x) store(dm + size_t(A * y + x) * xi_stride, row[x]);
    }
}

// U = G g G^T of L r x r kernels side by side (g[r^2][L] -> u[alpha^2][L]).
template <int M, int R, int L>
__attribute__((always_inline)) inline void weight_tiles(const float* g, float* u) {
    using V = typename ChannelVector<L>::type;
    constexpr int A = Transforms<M, R>::A;
    const auto gm = [](int i, int j) { return Transforms<M, R>::G[i][j]; };
    V k[R * R], gg[A][R], row[A];
    for (int i = 0; i < R * R; ++i) k[i] = load<V>(g + i * L);
    for (int x = 0; x < R; ++x) apply<A, R>(gm, k + x, R, &gg[0][x], R);
    for (int y = 0; y < A; ++y) {
        apply<A, R>(gm, &gg[y][0], 1, row, 1);
        for (int x = 0; x < A; ++x) store(u + (A * y + x) * L, row[x]);
    }
}

// dW = G^T dU G of L kernels side by side (du[alpha^2][L] -> g[r^2][L]): the adjoint of weight_tiles.
template <int M, int R, int L>
__attribute__((always_inline)) inline void weight_grad_tiles(const float* du, float* g) {
    using V = typename ChannelVector<L>::type;
    constexpr int A = Transforms<M, R>::A;
    const auto gt = [](int i, int j) { return Transforms<M, R>::G[j][i]; };
    V d[A * A], gu[R][A], row[R];
    for (int i = 0; i < A * A; ++i) d[i] = load<V>(du + i * L);
    for (int x = 0; x < A; ++x) apply<R, A>(gt, d + x, A, &gu[0][x], A);
    for (int y = 0; y < R; ++y) {
        apply<R, A>(gt, &gu[y][0], 1, row, 1);
        for (int x = 0; x < R; ++x) store(g + (R * y + x) * L, row[x]);
    }
}

// Compiled once per instruction set (and picked at run time) so that the lane loops become
// AVX-512 or AVX2 vectors on machines that have them, without building for one CPU. Templates
// called from here must be always_inline, or the clones call one generic copy.
#define GOOGLENET_BY_TILE(m, r, lanes, call)                                      \
    switch ((m) * 1000 + (r) * 100 + (lanes)) {                                  \
    case 2316: call(2, 3, 16); break;                                            \
    case 2308: call(2, 3, 8); break;                                             \
    case 3316: call(3, 3, 16); break;                                            \
    case 3308: call(3, 3, 8); break;                                             \
    case 4316: call(4, 3, 16); break;                                            \
    case 4308: call(4, 3, 8); break;                                             \
    case 6316: call(6, 3, 16); break;                                            \
    case 6308: call(6, 3, 8); break;                                             \
    case 2516: call(2, 5, 16); break;                                            \
    case 2508: call(2, 5, 8); break;                                             \
    case 3516: call(3, 5, 16); break;                                            \
    case 3508: call(3, 5, 8); break;                                             \
    case 4516: call(4, 5, 16); break;                                            \
    default: call(4, 5, 8); break;                                               \
    }

__attribute__((target_clones("avx512f", "avx2", "default"))) void input_tile_any(int m, int r, int lanes, const float* src, int h, int w,
                                                                               Tile tl, float* v, size_t xi_stride) {
#define CALL(M, R, L) input_tile<M, R, L>(src, h, w, tl, v, xi_stride)
    GOOGLENET_BY_TILE(m, r, lanes, CALL)
#undef CALL
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void output_tile_any(int m, int r, int lanes, const float* mm, size_t xi_stride,
                                                                                const float* bias, bool relu, float* dst,
                                                                                int h, int w, Tile tl) {
#define CALL(M, R, L) output_tile<M, R, L>(mm, xi_stride, bias, relu, dst, h, w, tl)
    GOOGLENET_BY_TILE(m, r, lanes, CALL)
#undef CALL
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void output_grad_tile_any(int m, int r, int lanes, const float* dy, int h, int w,
                                                                                     Tile tl, float* dm, size_t xi_stride) {
#define CALL(M, R, L) output_grad_tile<M, R, L>(dy, h, w, tl, dm, xi_stride)
    GOOGLENET_BY_TILE(m, r, lanes, CALL)
#undef CALL
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void weight_tiles_any(int m, int r, int lanes, const float* g, float* u) {
#define CALL(M, R, L) weight_tiles<M, R, L>(g, u)
    GOOGLENET_BY_TILE(m, r, lanes, CALL)
#undef CALL
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void weight_grad_tiles_any(int m, int r, int lanes, const float* du, float* g) {
#define CALL(M, R, L) weight_grad_tiles<M, R, L>(du, g)
    GOOGLENET_BY_TILE(m, r, lanes, CALL)
#undef CALL
}

}  // namespace

// Multiplies per output of F(m x m, r x r) on an h x w map, counting the outputs of tiles that
// hang over the map's edge as wasted work (direct: r^2).
static double multiplies_per_output(int m, int r, const Shape& out) {
    const double tiles = double((out.h + m - 1) / m) * double((out.w + m - 1) / m);
    return double((m + r - 1) * (m + r - 1)) * tiles / (double(out.h) * out.w);
}

// What reading one float of U (or of the direct kernel's weights) costs, in multiply-adds. It
// matters only for small batches, where U (alpha^2 / r^2 times the weights) is read for a few
// tiles, where a large tile read for one tile made inference slower than direct. 8 is about L3's
// pace (24 would be memory's); batch 32 and up pick the same tiles with either (docs/performance.md, "Figures behind the code's choices").
constexpr double kWeightReadCost = 8;

int WinogradConv::tile_for(const Shape& out, int kernel, Pass pass, int max_tile) {
    if (kernel != 3 && kernel != 5) return 0;
    const int largest = std::min(max_tile, kLargestTile);
    const double outputs = double(out.n) * out.h * out.w, r2 = double(kernel * kernel);
    int best = 0;  // direct
    double best_cost = r2 * outputs + kWeightReadCost * r2;
    for (int m : {2, 3, 4, 6}) {
        const int alpha = m + kernel - 1;
        if (m > largest || alpha > 8) continue;
        if (kernel == 5 && (out.h < kKernel5Map || out.w < kKernel5Map)) continue;
        const double mpo = multiplies_per_output(m, kernel, out);
        // Above these multiplies per output the transforms cost more than the multiplies saved
        // (3x3: F(2x2) on 3x3 maps, 7.1, ran slower than direct at batch 128; 5x5: kKernel5Limit).
        if (mpo > (kernel == 3 ? 4.0 : kKernel5Limit) + 1e-9) continue;
        // Backward-weights re-reads and re-writes each thread's dU (alpha^2 planes of C x K) for
        // every chunk of tiles: with 64 planes (F(6x6, 3x3)) and one tile per image (6x6 maps)
        // that traffic outweighed the saved multiplies (F(3x3) was faster there, docs/performance.md).
        if (pass == Pass::backward_weights && alpha == 8 && (out.h + m - 1) / m * ((out.w + m - 1) / m) < 4) continue;
        // Forward takes no tile of more than 6 points: its rounding decides discrete things
        // downstream (which ReLU inputs count as positive, which max-pool input wins), and F(6x6)'s
        // (1e-5 of a value's scale, 10x F(2x2)'s) made such flips frequent enough to show: in the
        // sanitizer build two gradients of the paper network came out 1.1-1.5e-3 off PyTorch's (the
        // bound is 1e-3; 2e-6 with F(4x4) forward). The backward passes' rounding only moves
        // gradients a little.
        if (pass == Pass::forward && alpha > kForwardAlpha) continue;
        const double cost = mpo * outputs + kWeightReadCost * alpha * alpha;
        if (cost < best_cost - 1e-9) best = m, best_cost = cost;  // ties: the smaller, more accurate tile
    }
    return best;
}

bool WinogradConv::has_backward_weights(const Shape& out, int m) {
    const long tiles = long(out.n) * ((out.h + m - 1) / m) * ((out.w + m - 1) / m);
    return tiles >= long(std::max(1, usable_threads())) * 64;
}

bool WinogradConv::applies(int kernel, int stride, int pad, Layout src, Layout dst, int in_channels, const Shape& out,
                           int max_tile) {
    if ((kernel != 3 && kernel != 5) || stride != 1 || pad != kernel / 2 || src != Layout::blocked || dst != Layout::blocked) return false;
    if (kernel == 5 && std::min(in_channels, out.c) < kKernel5Channels) return false;
    return tile_for(out, kernel, Pass::forward, max_tile) != 0;
}

void WinogradConv::prepare(Runtime& rt, const Shape& in, const Shape& out, int kernel, bool relu, int tile) {
    in_ = in, out_ = out, relu_ = relu, r_ = kernel;
    m_ = tile ? tile : std::max(tile_for(out, kernel), 2);
    const bool known = kernel == 3 ? m_ == 2 || m_ == 3 || m_ == 4 || m_ == 6 : kernel == 5 && m_ >= 2 && m_ <= 4;
    if (!known)
        throw Error("Winograd: no F(" + std::to_string(m_) + "x" + std::to_string(m_) + ", " + std::to_string(kernel) + "x" +
                    std::to_string(kernel) + ") (3x3: m = 2, 3, 4, 6; 5x5: m = 2, 3, 4)");
    a2_ = (m_ + kernel - 1) * (m_ + kernel - 1);
    lanes_ = channel_block();
    bias_padded_.assign(size_t((out.c + lanes_ - 1) / lanes_ * lanes_), 0.f);
    cp_ = (in.c + lanes_ - 1) / lanes_ * lanes_;
    kp_ = (out.c + lanes_ - 1) / lanes_ * lanes_;
    tiles_h_ = (out.h + m_ - 1) / m_, tiles_w_ = (out.w + m_ - 1) / m_;
    tiles_ = long(out.n) * tiles_h_ * tiles_w_;
    // Even chunks, a multiple of the thread count: a last chunk of a few tiles would cost a whole
    // chunk's matmul, and a thread left without a chunk would idle.
    threads_ = std::max(1, usable_threads());
    const size_t a2 = size_t(a2_);
    const long most = std::clamp<long>(long(kChunkBytes / (a2 * sizeof(float) * size_t(cp_ + kp_))), 4, tiles_);
    // With few tiles (small maps at small batches) a chunk per thread would give each matmul a
    // handful of rows; then all threads share each chunk (transforms split over tiles, the matmul
    // over its alpha^2 products), in chunks of up to four times the size.
    per_thread_ = has_backward_weights(out, m_);
    long chunks = per_thread_ ? std::max<long>((tiles_ + most - 1) / most, threads_) : (tiles_ + 4 * most - 1) / (4 * most);
    if (per_thread_) chunks = (chunks + threads_ - 1) / threads_ * threads_;
    chunk_ = int(std::max<long>((tiles_ + chunks - 1) / chunks, 1));
    // The tiles' buffers, reserved now so the first step does not grow them; the others (a plain
    // U, backward-weights' sums) only where set_weights / backward_weights need them: most
    // objects never do (forward and backward-data objects run no backward_weights).
    rt.transient(0, size_t(threads_) * a2 * size_t(chunk_) * size_t(cp_));
    rt.transient(1, size_t(threads_) * a2 * size_t(chunk_) * size_t(kp_));
    const memory::dim b = a2_, rows = chunk_, c = cp_, k = kp_;
    v_md_ = memory::desc({b, rows, c}, memory::data_type::f32, tag::abc);
    m_md_ = memory::desc({b, rows, k}, memory::data_type::f32, tag::abc);
    const memory::desc u_any({b, c, k}, memory::data_type::f32, tag::any);
    // Each thread runs the matmul on its own chunk (inside the parallel region oneDNN runs it on
    // the calling thread), so each needs its own scratchpad and stream.
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    auto pd = dnnl::matmul::primitive_desc(rt.engine, v_md_, u_any, m_md_, attr);
    matmul_ = dnnl::matmul(pd);
    u_md_ = pd.weights_desc();
    u_ = memory();
    own_u_ = memory();
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
    // A thread's first chunk writes its dU without the sum, so dU needs no zeroing pass (up to
    // 43 MiB a step over D2L's layers).
    auto dw_first_pd = dnnl::matmul::primitive_desc(rt.engine, vt_md_, m_md_, du_md_, attr);
    dweights_first_matmul_ = dnnl::matmul(dw_first_pd);
    scratchpads_.clear();
    dweights_scratchpads_.clear();
    dweights_first_scratchpads_.clear();
    streams_.clear();
    for (int t = 0; t < threads_; ++t) {
        scratchpads_.emplace_back(pd.scratchpad_desc(), rt.engine);
        dweights_scratchpads_.emplace_back(dw_pd.scratchpad_desc(), rt.engine);
        dweights_first_scratchpads_.emplace_back(dw_first_pd.scratchpad_desc(), rt.engine);
        streams_.emplace_back(rt.engine);
    }
}

// U = G g G^T for every (output, input) channel pair, as alpha^2 matrices U[xi] of cp x kp,
// a block of output channels at a time so that each U[xi] row is written in whole vectors:
// straight into the layout the matmul picked when that is aCB16b64c (AVX-512: blocks of 16 input
// by 64 output channels; a reorder from plain cost a pass over U every step), else plain and then
// reordered.
void WinogradConv::set_weights(Runtime& rt, const float* weights, bool backward_data) {
    const int C = in_.c, K = out_.c, L = lanes_, r2 = r_ * r_;
    // U is made again before each use in training, and in evaluation of large batches (where it
    // costs about 1/tiles of the products), so those share one buffer; small evaluation batches
    // keep their own for the next batches (at batch 1 the transforms would double the time).
    keeps_weights_ = !rt.state.training && tiles_ < 64;
    const bool blocked = L == 16 && u_md_ == memory::desc({a2_, cp_, kp_}, memory::data_type::f32, tag::aCB16b64c);
    // In training, nets that share work (the batch split's copies) share one U where theirs are
    // alike (the key: tile and padded channels; shares of different sizes may pick different
    // tiles), and each transforms its part of the input channels: half the work each on two
    // threads, and one U in the shared L3 cache instead of one per net (up to 13 MiB each). Every
    // sharing net comes here for the same layers in the same order (every forward and
    // backward-data call in training).
    std::optional<SharedWork::Part> part;
    if (rt.state.training && rt.shared) {
        const uint64_t key = uint64_t(blocked) | uint64_t(m_) << 1 | uint64_t(r_) << 8 | uint64_t(cp_) << 16 | uint64_t(kp_) << 40;
        part = rt.shared->begin(blocked ? key : 0, u_md_.get_size() / sizeof(float));
    }
    int c_first = 0, c_last = cp_;
    if (part) {
        u_ = rt.mem(u_md_, part->buffer);
        const int blocks = cp_ / L;
        c_first = blocks * part->index / part->count * L, c_last = blocks * (part->index + 1) / part->count * L;
    } else if (!keeps_weights_) {
        own_u_ = memory();
        u_ = rt.mem(u_md_, rt.transient(3, u_md_.get_size() / sizeof(float)));
    } else {
        if (!own_u_) own_u_ = memory(u_md_, rt.engine);
        u_ = own_u_;
    }
    const int k_padded = blocked ? (kp_ + 63) / 64 * 64 : kp_;  // the blocks' padding must hold zeros
    const size_t xi_stride = size_t(cp_) * size_t(k_padded);
    float* u = blocked ? static_cast<float*>(u_.get_data_handle()) : rt.transient(0, size_t(a2_) * xi_stride);
    // Where lanes [k, k + L) of U[xi][c] go.
    auto at = [&](int xi, int c, int k) {
        if (!blocked) return size_t(xi) * xi_stride + size_t(c) * size_t(kp_) + size_t(k);
        return ((size_t(xi) * size_t(k_padded / 64) + size_t(k / 64)) * size_t(cp_ / 16) + size_t(c / 16)) * 1024 +
               size_t(c % 16) * 64 + size_t(k % 64);
    };
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = c_first; c < c_last; ++c)  // the padding channels' entries are zeros
        for (int kb = 0; kb < k_padded / L; ++kb) {
            float g[25 * 16], tile[64 * 16];
            for (int l = 0; l < L; ++l) {
                const int k = kb * L + l;
                for (int i = 0; i < r2; ++i)
                    g[i * L + l] = k >= K || c >= C ? 0.f
                                   // backward-data: weights are (C x K x r x r) of the forward: take [c][k], rotated 180 degrees
                                   : backward_data ? weights[(size_t(c) * K + size_t(k)) * r2 + size_t(r2 - 1 - i)]
                                                   : weights[(size_t(k) * C + size_t(c)) * r2 + size_t(i)];
            }
            weight_tiles_any(m_, r_, L, g, tile);
            for (int xi = 0; xi < a2_; ++xi) std::memcpy(u + at(xi, c, kb * L), tile + xi * L, size_t(L) * sizeof(float));
        }
    if (part) rt.shared->end();
    if (blocked) return;
    auto from = rt.mem(memory::desc({a2_, cp_, kp_}, memory::data_type::f32, tag::abc), u);
    dnnl::reorder(from, u_).execute(rt.stream, from, u_);
}

// Tile `t0 + t` of the input, every channel block, into row t of the chunk's V.
void WinogradConv::input_tile_row(const float* src, long t0, int t, float* v) const {
    const int L = lanes_, h = in_.h, w = in_.w;
    const size_t plane = size_t(h) * size_t(w) * size_t(L), image = size_t(cp_ / L) * plane;
    const Tile tl = tile_of(t0 + t, tiles_h_, tiles_w_);
    for (int cb = 0; cb < cp_ / L; ++cb)
        input_tile_any(m_, r_, L, src + size_t(tl.n) * image + size_t(cb) * plane, h, w, tl, v + size_t(t) * size_t(cp_) + size_t(cb) * size_t(L),
                       size_t(chunk_) * size_t(cp_));
}

// Runs body(thread, first tile, tile count, V, M) for every chunk, each thread on whole chunks with
// its own part of the transient buffers. `balanced`: chunks go to whichever thread is free, for
// results that do not depend on which thread computed them. This machine's other processes (at a
// higher priority) take a core for milliseconds at a time; then the other thread takes on the
// chunks instead of waiting at the end (faster in such periods, the same otherwise). Backward-weights sums per thread, so it keeps the fixed assignment that makes its
// sums, and so resumed training, reproducible.
template <class Body>
void WinogradConv::each_chunk_per_thread(float* v_all, float* m_all, bool balanced, const Body& body) const {
    const size_t v_size = size_t(a2_) * size_t(chunk_) * size_t(cp_), m_size = size_t(a2_) * size_t(chunk_) * size_t(kp_);
    const long chunks = (tiles_ + chunk_ - 1) / chunk_;
    auto run = [&](long ch) {
        const int me = omp_get_thread_num();
        const long t0 = ch * chunk_;
        body(me, t0, int(std::min<long>(chunk_, tiles_ - t0)), v_all + size_t(me) * v_size, m_all + size_t(me) * m_size);
    };
    if (balanced) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_)
        for (long ch = 0; ch < chunks; ++ch) run(ch);
    } else {
#pragma omp parallel for schedule(static) num_threads(threads_)
        for (long ch = 0; ch < chunks; ++ch) run(ch);
    }
}

void WinogradConv::forward(Runtime& rt, const float* src, const float* bias, float* dst) {
    const int L = lanes_, kb_count = kp_ / L;
    const size_t dst_image = size_t(kb_count) * size_t(out_.h) * size_t(out_.w) * size_t(L);
    if (bias) std::copy(bias, bias + out_.c, bias_padded_.begin());  // the padding channels' entries stay zero
    const size_t v_xi = size_t(chunk_) * size_t(cp_), m_xi = size_t(chunk_) * size_t(kp_);
    float* v_all = rt.transient(0, size_t(threads_) * size_t(a2_) * v_xi);
    float* m_all = rt.transient(1, size_t(threads_) * size_t(a2_) * m_xi);
    const long chunks = (tiles_ + chunk_ - 1) / chunk_;
    auto output_transform = [&](long t0, int t, const float* m) {
        const Tile tl = tile_of(t0 + t, tiles_h_, tiles_w_);
        for (int kb = 0; kb < kb_count; ++kb) {
            float* image = dst + size_t(tl.n) * dst_image + size_t(kb) * size_t(out_.h) * size_t(out_.w) * size_t(L);
            output_tile_any(m_, r_, L, m + size_t(t) * size_t(kp_) + size_t(kb) * size_t(L), m_xi, bias_padded_.data() + size_t(kb) * size_t(L),
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
    each_chunk_per_thread(v_all, m_all, true, [&](int me, long t0, int count, float* v, float* m) {
        for (int t = 0; t < count; ++t) input_tile_row(src, t0, t, v);
        matmul(streams_[size_t(me)], v, m, me);
        for (int t = 0; t < count; ++t) output_transform(t0, t, m);
    });
}

void WinogradConv::backward_weights(Runtime& rt, const float* src, const float* diff_dst, float* diff_weights, float* diff_bias) {
    const int L = lanes_, kb_count = kp_ / L;
    const size_t dst_plane = size_t(out_.h) * size_t(out_.w) * size_t(L), dst_image = size_t(kb_count) * dst_plane;
    const size_t v_xi = size_t(chunk_) * size_t(cp_), m_xi = size_t(chunk_) * size_t(kp_), du_size = size_t(a2_) * size_t(cp_) * size_t(kp_);
    float* v_all = rt.transient(0, size_t(threads_) * size_t(a2_) * v_xi);
    float* m_all = rt.transient(1, size_t(threads_) * size_t(a2_) * m_xi);
    float* du_all = rt.transient(2, size_t(threads_) * du_size);
    std::vector<char>& started = started_;  // whether a thread's dU holds its first chunk's products
    started.assign(size_t(threads_), 0);
    each_chunk_per_thread(v_all, m_all, false, [&](int me, long t0, int count, float* v, float* dm) {
        for (int t = 0; t < count; ++t) {
            input_tile_row(src, t0, t, v);
            const Tile tl = tile_of(t0 + t, tiles_h_, tiles_w_);
            for (int kb = 0; kb < kb_count; ++kb)
                output_grad_tile_any(m_, r_, L, diff_dst + size_t(tl.n) * dst_image + size_t(kb) * dst_plane, out_.h, out_.w, tl,
                                     dm + size_t(t) * size_t(kp_) + size_t(kb) * size_t(L), m_xi);
        }
        for (int xi = 0; xi < a2_ && count < chunk_; ++xi) {  // a short chunk's other rows must add nothing
            std::fill(v + size_t(xi) * v_xi + size_t(count) * size_t(cp_), v + size_t(xi + 1) * v_xi, 0.f);
            std::fill(dm + size_t(xi) * m_xi + size_t(count) * size_t(kp_), dm + size_t(xi + 1) * m_xi, 0.f);
        }
        const bool first = !started[size_t(me)];
        started[size_t(me)] = 1;
        (first ? dweights_first_matmul_ : dweights_matmul_)
            .execute(streams_[size_t(me)], {{DNNL_ARG_SRC, rt.mem(vt_md_, v)},
                                            {DNNL_ARG_WEIGHTS, rt.mem(m_md_, dm)},
                                            {DNNL_ARG_DST, rt.mem(du_md_, du_all + size_t(me) * du_size)},
                                            {DNNL_ARG_SCRATCHPAD, (first ? dweights_first_scratchpads_ : dweights_scratchpads_)[size_t(me)]}});
    });
    for (int t = 0; t < threads_; ++t)  // a thread that got no chunk adds nothing
        if (!started[size_t(t)]) std::fill(du_all + size_t(t) * du_size, du_all + size_t(t + 1) * du_size, 0.f);
    const int C = in_.c, K = out_.c, r2 = r_ * r_;
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; ++c)
        for (int kb = 0; kb < kb_count; ++kb) {
            float du[64 * 16], g[25 * 16];
            for (int xi = 0; xi < a2_; ++xi) {
                const size_t at = size_t(xi) * size_t(cp_) * size_t(kp_) + size_t(c) * size_t(kp_) + size_t(kb) * size_t(L);
                for (int l = 0; l < L; ++l) du[xi * L + l] = du_all[at + size_t(l)];
                for (int t = 1; t < threads_; ++t)
                    for (int l = 0; l < L; ++l) du[xi * L + l] += du_all[size_t(t) * du_size + at + size_t(l)];
            }
            weight_grad_tiles_any(m_, r_, L, du, g);
            for (int l = 0; l < L && kb * L + l < K; ++l)
                for (int i = 0; i < r2; ++i) diff_weights[(size_t(kb * L + l) * C + size_t(c)) * r2 + size_t(i)] = g[i * L + l];
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
