// The transform matrices of Winograd F(m x m, r x r) (src/ops/winograd.cpp), as constexpr tables
// the transforms are unrolled over: their zeros and ones cost nothing.
#pragma once

namespace googlenet::winograd {

// The transforms of F(m x m, r x r), alpha = m + r - 1 points, from the Cook-Toom construction.
// 3x3: Lavin and Gray's matrices; m = 3 uses the points 0, 1, -1, 1/2, infinity, whose float32
// error is half that of 0, 1, -1, 2; m = 6 uses 0, +-1, +-2, +-1/2, infinity. Larger m means fewer
// multiplies per output (alpha^2 / m^2: 4, 2.78, 2.25, 1.78) and a larger rounding error (about
// 1e-6, 2e-6, 1e-5, 1e-5 of the output's scale at 96-192 channels), and each suits other map
// sizes (WinogradConv::tile_for). 5x5: printed by tools/winograd_tables.py (alpha^2 / m^2: 9,
// 5.4, 4 against the direct method's 25).
template <int M, int R>
struct Transforms;
template <>
struct Transforms<2, 3> {
    static constexpr int A = 4;
    static constexpr float BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
    static constexpr float G[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
    static constexpr float AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
};
template <>
struct Transforms<3, 3> {
    static constexpr int A = 5;
    static constexpr float BT[5][5] = {
        {0.5f, -1, -0.5f, 1, 0}, {0, -0.5f, 0.5f, 1, 0}, {0, 0.5f, -1.5f, 1, 0}, {0, -1, 0, 1, 0}, {0, 0.5f, -1, -0.5f, 1}};
    static constexpr float G[5][3] = {
        {2, 0, 0}, {1, 1, 1}, {-1.f / 3, 1.f / 3, -1.f / 3}, {-8.f / 3, -4.f / 3, -2.f / 3}, {0, 0, 1}};
    static constexpr float AT[3][5] = {{1, 1, 1, 1, 0}, {0, 1, -1, 0.5f, 0}, {0, 1, 1, 0.25f, 1}};
};
template <>
struct Transforms<4, 3> {
    static constexpr int A = 6;
    static constexpr float BT[6][6] = {{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                       {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
    static constexpr float G[6][3] = {{0.25f, 0, 0},           {-1.f / 6, -1.f / 6, -1.f / 6}, {-1.f / 6, 1.f / 6, -1.f / 6},
                                      {1.f / 24, 1.f / 12, 1.f / 6}, {1.f / 24, -1.f / 12, 1.f / 6}, {0, 0, 1}};
    static constexpr float AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
};

template <>
struct Transforms<6, 3> {
    static constexpr int A = 8;
    static constexpr float BT[8][8] = {{1, 0, -21.f / 4, 0, 21.f / 4, 0, -1, 0},
                                       {0, 1, 1, -17.f / 4, -17.f / 4, 1, 1, 0},
                                       {0, -1, 1, 17.f / 4, -17.f / 4, -1, 1, 0},
                                       {0, 1.f / 2, 1.f / 4, -5.f / 2, -5.f / 4, 2, 1, 0},
                                       {0, -1.f / 2, 1.f / 4, 5.f / 2, -5.f / 4, -2, 1, 0},
                                       {0, 2, 4, -5.f / 2, -5, 1.f / 2, 1, 0},
                                       {0, -2, 4, 5.f / 2, -5, -1.f / 2, 1, 0},
                                       {0, -1, 0, 21.f / 4, 0, -21.f / 4, 0, 1}};
    static constexpr float G[8][3] = {{1, 0, 0},
                                      {-2.f / 9, -2.f / 9, -2.f / 9},
                                      {-2.f / 9, 2.f / 9, -2.f / 9},
                                      {1.f / 90, 1.f / 45, 2.f / 45},
                                      {1.f / 90, -1.f / 45, 2.f / 45},
                                      {32.f / 45, 16.f / 45, 8.f / 45},
                                      {32.f / 45, -16.f / 45, 8.f / 45},
                                      {0, 0, 1}};
    static constexpr float AT[6][8] = {{1, 1, 1, 1, 1, 1, 1, 0},
                                       {0, 1, -1, 2, -2, 1.f / 2, -1.f / 2, 0},
                                       {0, 1, 1, 4, 4, 1.f / 4, 1.f / 4, 0},
                                       {0, 1, -1, 8, -8, 1.f / 8, -1.f / 8, 0},
                                       {0, 1, 1, 16, 16, 1.f / 16, 1.f / 16, 0},
                                       {0, 1, -1, 32, -32, 1.f / 32, -1.f / 32, 1}};
};

// F(2, 5): points 0, 1, -1, 2, -2, infinity (tools/winograd_tables.py)
template <>
struct Transforms<2, 5> {
    static constexpr int A = 6;
    static constexpr float BT[6][6] = {{4, 0, -5, 0, 1, 0},
                                       {0, -4, -4, 1, 1, 0},
                                       {0, 4, -4, -1, 1, 0},
                                       {0, -2, -1, 2, 1, 0},
                                       {0, 2, -1, -2, 1, 0},
                                       {0, 4, 0, -5, 0, 1}};
    static constexpr float G[6][5] = {{1.f / 4, 0, 0, 0, 0},
                                      {-1.f / 6, -1.f / 6, -1.f / 6, -1.f / 6, -1.f / 6},
                                      {-1.f / 6, 1.f / 6, -1.f / 6, 1.f / 6, -1.f / 6},
                                      {1.f / 24, 1.f / 12, 1.f / 6, 1.f / 3, 2.f / 3},
                                      {1.f / 24, -1.f / 12, 1.f / 6, -1.f / 3, 2.f / 3},
                                      {0, 0, 0, 0, 1}};
    static constexpr float AT[2][6] = {{1, 1, 1, 1, 1, 0},
                                       {0, 1, -1, 2, -2, 1}};
};
// F(3, 5): points 0, 1, -1, 2, -2, 1/2, infinity (tools/winograd_tables.py)
template <>
struct Transforms<3, 5> {
    static constexpr int A = 7;
    static constexpr float BT[7][7] = {{-2, 4, 5.f / 2, -5, -1.f / 2, 1, 0},
                                       {0, 2, -2, -9.f / 2, 1.f / 2, 1, 0},
                                       {0, -2, 6, -7.f / 2, -3.f / 2, 1, 0},
                                       {0, 1, -3.f / 2, -2, 3.f / 2, 1, 0},
                                       {0, -1, 5.f / 2, 0, -5.f / 2, 1, 0},
                                       {0, 4, 0, -5, 0, 1, 0},
                                       {0, -2, 4, 5.f / 2, -5, -1.f / 2, 1}};
    static constexpr float G[7][5] = {{-1.f / 2, 0, 0, 0, 0},
                                      {-1.f / 3, -1.f / 3, -1.f / 3, -1.f / 3, -1.f / 3},
                                      {1.f / 9, -1.f / 9, 1.f / 9, -1.f / 9, 1.f / 9},
                                      {1.f / 36, 1.f / 18, 1.f / 9, 2.f / 9, 4.f / 9},
                                      {-1.f / 60, 1.f / 30, -1.f / 15, 2.f / 15, -4.f / 15},
                                      {32.f / 45, 16.f / 45, 8.f / 45, 4.f / 45, 2.f / 45},
                                      {0, 0, 0, 0, 1}};
    static constexpr float AT[3][7] = {{1, 1, 1, 1, 1, 1, 0},
                                       {0, 1, -1, 2, -2, 1.f / 2, 0},
                                       {0, 1, 1, 4, 4, 1.f / 4, 1}};
};
// F(4, 5): points 0, 1, -1, 2, -2, 1/2, -1/2, infinity (tools/winograd_tables.py)
template <>
struct Transforms<4, 5> {
    static constexpr int A = 8;
    static constexpr float BT[8][8] = {{-1, 0, 21.f / 4, 0, -21.f / 4, 0, 1, 0},
                                       {0, 1, 1, -17.f / 4, -17.f / 4, 1, 1, 0},
                                       {0, -1, 1, 17.f / 4, -17.f / 4, -1, 1, 0},
                                       {0, 1.f / 2, 1.f / 4, -5.f / 2, -5.f / 4, 2, 1, 0},
                                       {0, -1.f / 2, 1.f / 4, 5.f / 2, -5.f / 4, -2, 1, 0},
                                       {0, 2, 4, -5.f / 2, -5, 1.f / 2, 1, 0},
                                       {0, -2, 4, 5.f / 2, -5, -1.f / 2, 1, 0},
                                       {0, -1, 0, 21.f / 4, 0, -21.f / 4, 0, 1}};
    static constexpr float G[8][5] = {{-1, 0, 0, 0, 0},
                                      {-2.f / 9, -2.f / 9, -2.f / 9, -2.f / 9, -2.f / 9},
                                      {-2.f / 9, 2.f / 9, -2.f / 9, 2.f / 9, -2.f / 9},
                                      {1.f / 90, 1.f / 45, 2.f / 45, 4.f / 45, 8.f / 45},
                                      {1.f / 90, -1.f / 45, 2.f / 45, -4.f / 45, 8.f / 45},
                                      {32.f / 45, 16.f / 45, 8.f / 45, 4.f / 45, 2.f / 45},
                                      {32.f / 45, -16.f / 45, 8.f / 45, -4.f / 45, 2.f / 45},
                                      {0, 0, 0, 0, 1}};
    static constexpr float AT[4][8] = {{1, 1, 1, 1, 1, 1, 1, 0},
                                       {0, 1, -1, 2, -2, 1.f / 2, -1.f / 2, 0},
                                       {0, 1, 1, 4, 4, 1.f / 4, 1.f / 4, 0},
                                       {0, 1, -1, 8, -8, 1.f / 8, -1.f / 8, 1}};
};

}  // namespace googlenet::winograd
