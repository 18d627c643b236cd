#!/usr/bin/env python3
"""Generate MSE-optimal grids for N(0, I_p) and write them as C++ data (src/quant/gaussian_grids_data.inc).

HIGGS rounds Hadamard-rotated, norm-scaled weights (entries ~ N(0, 1)) to the nearest point of a grid that
minimizes the expected squared error for a standard Gaussian. The grids are fitted here, once, and shipped.

How each grid is fitted (deterministic: same output on every run and platform up to float rounding):
  p = 1: exact Lloyd-Max. The centroid of a cell [a, b] of N(0, 1) is (phi(a) - phi(b)) / (Phi(b) - Phi(a))
         and the MSE is an exact integral, so no sampling noise. Initialized at the companding optimum
         (levels at quantiles of N(0, 3), Panter-Dite), iterated until no level moves by more than 1e-12.
  p = 2: Lloyd (k-means) on a quadrature of N(0, I_2): the disk of radius 6.5 is cut into square cells of side
         13/cells; each cell carries its exact probability mass, its exact conditional mean and its exact
         within-cell variance, so the objective is the true Gaussian MSE up to cells split by a Voronoi edge.
         Up to COARSE_ITERS iterations on COARSE_CELLS^2 cells (fast), then up to FINE_ITERS on CELLS^2 cells.
         Initialized by k-means++ on seeded Gaussian samples (numpy PCG64, seed SEED + n + 1000 * restart),
         best of RESTARTS. Cells cut by a Voronoi edge bias the quadrature MSE upward (~0.5% at n = 256), so
         the best grid then gets up to SAMPLE_ITERS Lloyd iterations on 2^22 seeded samples (seed SEED), and
         its shipped MSE is measured on 2^22 fresh samples (seed CHECK_SEED), an unbiased estimate.
Every grid's MSE is also measured on 2^22 fresh Gaussian samples (seed CHECK_SEED); the header comment lists
it beside the shipped value (p = 1: the exact integral; p = 2: that fresh-sample measurement).

Usage: python3 tools/make_gaussian_grids.py [--out src/quant/gaussian_grids_data.inc]
"""
import argparse
import math
import statistics
import sys
import time

import numpy as np

SEED = 20241126
CHECK_SEED = 7
CHECK_SAMPLES = 1 << 22
CELLS = 640
COARSE_CELLS = 200
COARSE_ITERS = 400
FINE_ITERS = 40
SAMPLE_ITERS = 30
RADIUS = 6.5
RESTARTS = 2

GRIDS_1D = [2, 4, 8, 16, 32, 64, 256]
GRIDS_2D = [4, 16, 64, 256]


def phi(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi) if math.isfinite(x) else 0.0


def Phi(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def lloyd_max_1d(n):
    """Exact Lloyd-Max quantizer of N(0, 1) with n levels: (levels, mse)."""
    nd = statistics.NormalDist(0.0, math.sqrt(3.0))
    levels = [nd.inv_cdf((i + 0.5) / n) for i in range(n)]
    for it in range(1_000_000):
        edges = [-math.inf] + [(levels[i] + levels[i + 1]) / 2 for i in range(n - 1)] + [math.inf]
        new = []
        for i in range(n):
            a, b = edges[i], edges[i + 1]
            mass = Phi(b) - Phi(a)
            new.append((phi(a) - phi(b)) / mass)
        # Symmetrize: the optimum is symmetric, and this keeps rounding from drifting it.
        new = [(new[i] - new[n - 1 - i]) / 2 for i in range(n)]
        moved = max(abs(x - y) for x, y in zip(new, levels))
        levels = new
        if moved < 1e-12:
            break
    edges = [-math.inf] + [(levels[i] + levels[i + 1]) / 2 for i in range(n - 1)] + [math.inf]
    # E[(X - c)^2 on [a, b]] = E[X^2] - 2c E[X] + c^2 P, with E[X^2 1_[a,b]] = P + a phi(a) - b phi(b).
    mse = 0.0
    for i in range(n):
        a, b, c = edges[i], edges[i + 1], levels[i]
        p = Phi(b) - Phi(a)
        m1 = phi(a) - phi(b)
        m2 = p + (a * phi(a) if math.isfinite(a) else 0.0) - (b * phi(b) if math.isfinite(b) else 0.0)
        mse += m2 - 2 * c * m1 + c * c * p
    return np.array(levels, dtype=np.float64), mse, it + 1


def quadrature_2d(cells):
    """Cells of the disk of radius RADIUS: (centers [m, 2] = conditional means, mass [m], within-cell var [m])."""
    edges = np.linspace(-RADIUS, RADIUS, cells + 1)
    cdf = np.array([Phi(e) for e in edges])
    pdf = np.array([phi(e) for e in edges])
    mass1 = np.diff(cdf)
    mean1 = (pdf[:-1] - pdf[1:]) / mass1
    ex2 = mass1 + edges[:-1] * pdf[:-1] - edges[1:] * pdf[1:]
    var1 = ex2 / mass1 - mean1 ** 2
    mx, my = np.meshgrid(mean1, mean1, indexing="ij")
    px, py = np.meshgrid(mass1, mass1, indexing="ij")
    vx, vy = np.meshgrid(var1, var1, indexing="ij")
    keep = (mx ** 2 + my ** 2) <= RADIUS ** 2
    centers = np.stack([mx[keep], my[keep]], axis=1)
    mass = (px * py)[keep]
    var = (vx + vy)[keep]
    return centers, mass, var


def nearest(points, grid, chunk=1 << 16):
    """Index of the nearest grid point for each row of points (argmax of 2<x, g> - |g|^2)."""
    g = grid.astype(np.float32)
    gn = (g ** 2).sum(axis=1)
    out = np.empty(len(points), dtype=np.int64)
    for s in range(0, len(points), chunk):
        x = points[s:s + chunk].astype(np.float32)
        out[s:s + chunk] = np.argmax(x @ (2.0 * g.T) - gn, axis=1)
    return out


def kmeans_pp(samples, n, rng):
    grid = [samples[rng.integers(len(samples))]]
    d2 = ((samples - grid[0]) ** 2).sum(axis=1)
    for _ in range(1, n):
        idx = rng.choice(len(samples), p=d2 / d2.sum())
        grid.append(samples[idx])
        d2 = np.minimum(d2, ((samples - samples[idx]) ** 2).sum(axis=1))
    return np.array(grid)


def lloyd_2d(n, coarse, fine):
    """Lloyd iterations on the coarse quadrature (fast), then on the fine one (accurate)."""
    best = None
    for r in range(RESTARTS):
        rng = np.random.default_rng(SEED + n + 1000 * r)
        grid = kmeans_pp(rng.standard_normal((1 << 15, 2)), n, rng)
        it_coarse = lloyd_iterations(grid, coarse, COARSE_ITERS)
        it_fine = lloyd_iterations(grid, fine, FINE_ITERS)
        mse = quad_mse(grid, fine)
        print(f"  p=2 n={n} restart {r}: mse {mse:.6f} after {it_coarse} + {it_fine} iterations", file=sys.stderr)
        if best is None or mse < best[1]:
            best = (grid.copy(), mse, it_coarse + it_fine)
    grid, _, iters = best
    x = np.random.default_rng(SEED).standard_normal((CHECK_SAMPLES, 2))
    ones = np.zeros(len(x))
    iters += lloyd_iterations(grid, (x, np.ones(len(x)), ones), SAMPLE_ITERS)
    return grid, sample_mse(grid.reshape(-1), 2), iters


def quad_mse(grid, quad):
    centers, mass, var = quad
    d = centers - grid[nearest(centers, grid)]
    return (mass * ((d ** 2).sum(axis=1) + var)).sum() / mass.sum() / 2.0


def lloyd_iterations(grid, quad, max_iter, tol=1e-9):
    """Update grid in place; returns the number of iterations run."""
    centers, mass, var = quad
    n = len(grid)
    prev = math.inf
    for it in range(max_iter):
        a = nearest(centers, grid)
        w = np.bincount(a, weights=mass, minlength=n)
        sx = np.bincount(a, weights=mass * centers[:, 0], minlength=n)
        sy = np.bincount(a, weights=mass * centers[:, 1], minlength=n)
        d = centers - grid[a]
        mse = (mass * ((d ** 2).sum(axis=1) + var)).sum() / mass.sum() / 2.0
        ok = w > 0
        grid[ok, 0] = sx[ok] / w[ok]
        grid[ok, 1] = sy[ok] / w[ok]
        if prev - mse < tol * mse:
            break
        prev = mse
    return it + 1


def sample_mse(grid, p):
    rng = np.random.default_rng(CHECK_SEED)
    x = rng.standard_normal((CHECK_SAMPLES, p))
    g = grid.reshape(-1, p)
    if p == 1:
        mid = (g[1:, 0] + g[:-1, 0]) / 2
        q = g[np.searchsorted(mid, x[:, 0]), 0][:, None]
    else:
        q = g[nearest(x, g)]
    return float(((x - q) ** 2).mean())


def fmt(v):
    return f"{v:.9g}f"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="src/quant/gaussian_grids_data.inc")
    args = ap.parse_args()
    entries = []
    t0 = time.time()
    for n in GRIDS_1D:
        levels, mse, iters = lloyd_max_1d(n)
        entries.append((1, n, levels, mse, iters))
        print(f"p=1 n={n}: mse {mse:.6g} ({iters} iterations)", file=sys.stderr)
    coarse, fine = quadrature_2d(COARSE_CELLS), quadrature_2d(CELLS)
    for n in GRIDS_2D:
        grid, mse, iters = lloyd_2d(n, coarse, fine)
        order = np.lexsort((grid[:, 1], grid[:, 0]))
        entries.append((2, n, grid[order].reshape(-1), mse, iters))
        print(f"p=2 n={n}: mse {mse:.6g}", file=sys.stderr)
    lines = [
        "// Generated by tools/make_gaussian_grids.py -- do not edit; rerun the tool instead.",
        "// MSE-optimal grids for N(0, I_p): p = 1 exact Lloyd-Max (Gaussian integrals); p = 2 Lloyd on a",
        f"// {COARSE_CELLS}^2- then {CELLS}^2-cell quadrature of the disk of radius {RADIUS} (exact cell masses, means, variances),",
        f"// k-means++ init from seeded samples (numpy PCG64, seed {SEED} + n + 1000 * restart), best of {RESTARTS}.",
        "// Points: p = 1 ascending; p = 2 sorted by (x, y), stored as x0, y0, x1, y1, ...",
        "// MSE per dimension: 'shipped' is p = 1: the exact integral, p = 2: the MSE on 2^22 fresh samples after",
        f"// {SAMPLE_ITERS} final Lloyd iterations on 2^22 seeded samples; 'sampled' is on 2^22 fresh N(0, I_p) samples",
        f"// (numpy PCG64, seed {CHECK_SEED}).",
    ]
    for p, n, pts, mse, iters in entries:
        lines.append(f"//   p={p} n={n:<4d} bits/dim={math.log2(n) / p:.3g}  shipped {mse:.7f}  "
                     f"sampled {sample_mse(pts, p):.7f}  ({iters} Lloyd iterations)")
    lines.append("")
    for p, n, pts, mse, iters in entries:
        lines.append(f"static const float kGaussianGrid_p{p}_n{n}[] = {{")
        per = 6
        vals = [fmt(v) for v in pts]
        for s in range(0, len(vals), per):
            lines.append("    " + ", ".join(vals[s:s + per]) + ",")
        lines.append("};")
    lines.append("")
    lines.append("// {p, n, points, mse per dimension on N(0, I_p)}")
    lines.append("static const GaussianGridData kGaussianGridTable[] = {")
    for p, n, pts, mse, iters in entries:
        lines.append(f"    {{{p}, {n}, kGaussianGrid_p{p}_n{n}, {mse:.10g}}},")
    lines.append("};")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out} in {time.time() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
