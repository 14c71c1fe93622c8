// bfloat16 <-> float for the few loops that touch bf16 values outside oneDNN's primitives (the
// gradient sum of a value with several readers): the upper 16 bits of a float, rounded to nearest
// even as oneDNN's conversions round, NaN kept a NaN.
#pragma once
#include <cstdint>
#include <cstring>

namespace googlenet {

inline float from_bf16(uint16_t h) {
    const uint32_t bits = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

inline uint16_t to_bf16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((bits >> 16) | 0x40u);  // NaN: stay quiet NaN
    bits += 0x7FFFu + ((bits >> 16) & 1u);
    return uint16_t(bits >> 16);
}

}  // namespace googlenet
