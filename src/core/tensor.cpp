#include "googlenet/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include <sys/mman.h>

namespace googlenet {

std::string Shape::str() const {
    return "[" + std::to_string(n) + ", " + std::to_string(c) + ", " + std::to_string(h) + ", " +
           std::to_string(w) + "]";
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
    if (this != &o) {
        std::free(p_);
        p_ = o.p_;
        n_ = o.n_;
        o.p_ = nullptr;
        o.n_ = 0;
    }
    return *this;
}

Buffer::~Buffer() { std::free(p_); }

void Buffer::resize(size_t n) {
    std::free(p_);
    p_ = nullptr;
    n_ = n;
    if (n == 0) return;
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    // Arenas and Winograd's buffers span hundreds of MiB that every training step walks: on 2 MiB
    // pages (transparent huge pages, which Debian gives on request) the step ran faster than on
    // 4 KiB pages, measured back to back (fewer TLB misses; docs/performance.md).
    constexpr size_t kHuge = size_t(2) << 20;
    const bool huge = bytes >= kHuge;
    if (huge) bytes = (bytes + kHuge - 1) / kHuge * kHuge;
    p_ = static_cast<float*>(std::aligned_alloc(huge ? kHuge : 64, bytes));
    if (!p_) throw std::bad_alloc();
    if (huge) madvise(p_, bytes, MADV_HUGEPAGE);
    zero();
}

void Buffer::zero() {
    if (n_) std::memset(p_, 0, n_ * sizeof(float));
}

}  // namespace googlenet
