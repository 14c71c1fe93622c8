// Shapes and owned float buffers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "googlenet/error.h"

namespace googlenet {

// An activation's shape. Activations are dense NCHW, batch first; a vector is N x C x 1 x 1.
struct Shape {
    int n = 1, c = 1, h = 1, w = 1;
    size_t numel() const { return size_t(n) * c * h * w; }
    size_t per_image() const { return size_t(c) * h * w; }
    std::string str() const;  // "[n, c, h, w]", as PyTorch prints a size
    bool operator==(const Shape& o) const { return n == o.n && c == o.c && h == o.h && w == o.w; }
};

// A 64-byte aligned float array; move-only so that a pointer into it stays valid while it lives.
class Buffer {
public:
    Buffer() = default;
    explicit Buffer(size_t n) { resize(n); }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    Buffer(Buffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
    Buffer& operator=(Buffer&& o) noexcept;
    ~Buffer();
    void resize(size_t n);  // contents are zeroed
    void zero();
    float* data() { return p_; }
    const float* data() const { return p_; }
    size_t size() const { return n_; }
    float& operator[](size_t i) { return p_[i]; }
    float operator[](size_t i) const { return p_[i]; }

private:
    float* p_ = nullptr;
    size_t n_ = 0;
};

// A float array owned elsewhere (a slice of an arena).
class TensorView {
public:
    TensorView() = default;
    TensorView(float* p, size_t n) : p_(p), n_(n) {}
    float* data() { return p_; }
    const float* data() const { return p_; }
    size_t size() const { return n_; }
    float& operator[](size_t i) { return p_[i]; }
    float operator[](size_t i) const { return p_[i]; }

private:
    float* p_ = nullptr;
    size_t n_ = 0;
};

}  // namespace googlenet
