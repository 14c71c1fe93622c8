#!/usr/bin/python3
"""Prints the Cook-Toom matrices of Winograd F(m, r) as the C++ Transforms<M, R> tables of
src/ops/winograd.cpp, and checks each in exact rational arithmetic first.

Usage: tools/winograd_tables.py            (the 5x5 tables: F(2, 5), F(3, 5), F(4, 5))
       tools/winograd_tables.py M R P...   (one table from the finite points P, e.g. 4 3 0 1 -1 2 -2)
       tools/winograd_tables.py --check HEADER   (exit 1 unless HEADER holds the 5x5 tables as printed;
                                                  the test suite runs it on src/ops/winograd_transforms.h)

For alpha = m + r - 1 points, alpha - 1 finite ones a_j and infinity (Lavin and Gray, 2016):
A^T[i][j] = a_j^i, G[j][k] = a_j^k / prod_{l != j} (a_j - a_l), B^T's row j holds the
coefficients of prod_{l != j} (x - a_l), and infinity adds the last column of A^T, the last row of
G and a last row of B^T with the coefficients of prod_l (x - a_l). B^T depends only on the points,
so F(2, 5) shares F(4x4, 3x3)'s and F(4, 5) F(6x6, 3x3)'s points. The 3x3 tables in winograd.cpp
are Lavin's (F(3x3) and F(6x6) rescaled by row); `tools/winograd_tables.py 4 3 0 1 -1 2 -2`
reprints F(4x4, 3x3)'s exactly.

The float32 error of the results (bench-free: a numpy check of 64-channel tiles against float64):
F(2, 5) 3e-6, F(3, 5) 6e-6, F(4, 5) 7e-6 of the output's scale, F(4x4, 3x3) 9e-6 by the same check.
"""
import random
import sys
from fractions import Fraction


def polymul(p, q):
    out = [Fraction(0)] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            out[i + j] += a * b
    return out


def product_of_roots(points):
    p = [Fraction(1)]
    for a in points:
        p = polymul(p, [-a, Fraction(1)])
    return p


def matrices(m, r, points):
    alpha, n = m + r - 1, len(points)
    if n != alpha - 1 or len(set(points)) != n:
        sys.exit(f"F({m}, {r}) needs {alpha - 1} distinct finite points, got {points}")
    at = [[points[j] ** i for j in range(n)] + [Fraction(int(i == m - 1))] for i in range(m)]
    g = []
    for j in range(n):
        f = Fraction(1)
        for l in range(n):
            if l != j:
                f *= points[j] - points[l]
        g.append([points[j] ** k / f for k in range(r)])
    g.append([Fraction(int(k == r - 1)) for k in range(r)])
    bt = []
    for j in range(n):
        row = product_of_roots([points[l] for l in range(n) if l != j])
        bt.append(row + [Fraction(0)] * (alpha - len(row)))
    bt.append(product_of_roots(points))
    return at, g, bt


def check(m, r, at, g, bt):
    """y = A^T [(G g) . (B^T d)] must be the correlation of d with g, exactly, for random integers."""
    alpha = m + r - 1
    rng = random.Random(m * 10 + r)
    for _ in range(20):
        d = [Fraction(rng.randint(-9, 9)) for _ in range(alpha)]
        w = [Fraction(rng.randint(-9, 9)) for _ in range(r)]
        u = [sum(g[j][k] * w[k] for k in range(r)) for j in range(alpha)]
        v = [sum(bt[j][i] * d[i] for i in range(alpha)) for j in range(alpha)]
        y = [sum(at[i][j] * u[j] * v[j] for j in range(alpha)) for i in range(m)]
        if y != [sum(d[i + k] * w[k] for k in range(r)) for i in range(m)]:
            sys.exit(f"F({m}, {r}): the matrices do not compute the correlation")


def literal(x):
    if x.denominator == 1:
        return str(x.numerator)
    return f"{x.numerator}.f / {x.denominator}"


def table(name, rows):
    body = ", ".join("{" + ", ".join(literal(x) for x in row) + "}" for row in rows)
    return f"    static constexpr float {name}[{len(rows)}][{len(rows[0])}] = {{{body}}};"


def emit(m, r, points):
    at, g, bt = matrices(m, r, points)
    check(m, r, at, g, bt)
    return "\n".join([f"// F({m}, {r}): points {', '.join(str(p) for p in points)}, infinity (tools/winograd_tables.py)",
                      "template <>", f"struct Transforms<{m}, {r}> {{", f"    static constexpr int A = {m + r - 1};",
                      table("BT", bt), table("G", g), table("AT", at), "};"])


def five_by_five():
    half = Fraction(1, 2)
    return [emit(m, 5, [Fraction(p) for p in points])
            for m, points in [(2, [0, 1, -1, 2, -2]), (3, [0, 1, -1, 2, -2, half]), (4, [0, 1, -1, 2, -2, half, -half])]]


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        # Line breaks and indentation are the header's own; compare everything else.
        squeeze = lambda text: "".join(text.split())
        with open(sys.argv[2]) as f:
            header = squeeze(f.read())
        stale = [t.splitlines()[0] for t in five_by_five() if squeeze(t) not in header]
        if stale:
            sys.exit(f"{sys.argv[2]}: differs from tools/winograd_tables.py for: " + "; ".join(stale))
        print(f"{sys.argv[2]}: the 5x5 tables match")
        return
    if len(sys.argv) > 1:
        if len(sys.argv) < 4:
            sys.exit(__doc__)
        print(emit(int(sys.argv[1]), int(sys.argv[2]), [Fraction(p) for p in sys.argv[3:]]))
        return
    print("\n".join(five_by_five()))


if __name__ == "__main__":
    main()
