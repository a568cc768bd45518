"""Grid refinement: discretized distances between two Gaussians against their closed forms.

The data p = N(0, 1) and the generated q = N(1, 1.5^2) are discretized on [-12, 12] by the
``normal`` target plugin (exact cell integrals, renormalized) at N = 64 ... 16384 cells, and
every distance plugin's value is compared with the distance between the continuous
Gaussians. The grid is wider than the usual [-10, 10] because N(1, 1.5^2) has mass 1e-9
beyond 10, which would put a floor under the smallest errors; beyond [-12, 12] it has 1e-13.

Exact values: closed forms for all but JS, whose reference is scipy.integrate.quad to about
1e-15 (JS between Gaussians has no closed form). ``leading_error`` gives each distance's
leading-order error, derived in docs/grid-refinement.md; the table prints the measured error
over it, which tends to 1 as h -> 0. A second table does the same for equal variances,
N(0, 1) against N(1, 1); the figure shows the first pair.

    python docs/grid_refinement.py [--out docs/grid-refinement.png] [--sizes 64 128 ...]

(docs/grid_refinement.py runs :func:`main`; ``gamesim reproduce`` checks the orders.)
"""

import argparse
import dataclasses
import math
import os

import numpy as np
from matplotlib.figure import Figure

from gamesim import plugins
from gamesim.grid import Grid
from gamesim.params import build

OUT = "grid-refinement.png"
LOWER, UPPER = -12.0, 12.0
SIZES = tuple(64 * 2 ** k for k in range(9))  # 64 ... 16384
BANDWIDTH = 1.0  # of the mmd's Gaussian kernel
# Errors below this are rounding and the 1e-13 of mass truncated at the grid's edges: they
# are left out of the fitted orders.
FLOOR = 1e-11

# Distances whose discretized value is, up to errors smaller than any power of h, the
# distance between the densities smoothed by a box of width h (see leading_error).
SMOOTHED = ("kl", "reverse_kl", "js", "hellinger", "chi2", "mmd")
# Distances whose discretized value is a midpoint rule of a smooth integrand over the
# exact CDFs at the cell edges: no power of h in their error.
SPECTRAL = ("energy", "cramer")
DISTANCES = SMOOTHED + ("w2", "w1", "tv", "ks") + SPECTRAL


def _phi(z):
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _Phi(z):
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _frac(x, h):
    """Where x sits within its cell, in [0, 1): 0 on a cell edge lower + k h."""
    u = (x - LOWER) / h
    return u - math.floor(u)


def _to_nearest_edge(x, h):
    """The distance from x to the nearest cell edge."""
    return h * min(_frac(x, h), 1.0 - _frac(x, h))


def _bernoulli2(t):
    """The second Bernoulli polynomial t^2 - t + 1/6."""
    return t * t - t + 1.0 / 6.0


@dataclasses.dataclass(frozen=True)
class Pair:
    """Data p = N(m1, s1^2) and generated q = N(m2, s2^2)."""

    m1: float = 0.0
    s1: float = 1.0
    m2: float = 1.0
    s2: float = 1.5

    def smoothed(self, variance):
        """Both Gaussians convolved with a centred noise of the given variance."""
        return Pair(self.m1, math.hypot(self.s1, math.sqrt(variance)),
                    self.m2, math.hypot(self.s2, math.sqrt(variance)))

    def pdf_gap(self, x):
        """f(x) - g(x), the derivative of the CDF gap."""
        return _phi((x - self.m1) / self.s1) / self.s1 - _phi((x - self.m2) / self.s2) / self.s2

    def pdf_gap_slope(self, x):
        """f'(x) - g'(x)."""
        z1, z2 = (x - self.m1) / self.s1, (x - self.m2) / self.s2
        return -z1 * _phi(z1) / self.s1 ** 2 + z2 * _phi(z2) / self.s2 ** 2

    def cdf_gap(self, x):
        """F(x) - G(x)."""
        return _Phi((x - self.m1) / self.s1) - _Phi((x - self.m2) / self.s2)

    def density_crossings(self):
        """The points where f = g (log f - log g is quadratic in x), sorted."""
        a = 0.5 / self.s2 ** 2 - 0.5 / self.s1 ** 2
        b = self.m1 / self.s1 ** 2 - self.m2 / self.s2 ** 2
        c = (0.5 * self.m2 ** 2 / self.s2 ** 2 - 0.5 * self.m1 ** 2 / self.s1 ** 2
             + math.log(self.s2 / self.s1))
        if a == 0.0:
            return [-c / b] if b != 0.0 else []
        root = math.sqrt(b * b - 4.0 * a * c)  # >= 0: two Gaussians of unequal widths cross twice
        return sorted([(-b - root) / (2.0 * a), (-b + root) / (2.0 * a)])

    def cdf_crossing(self):
        """The point where F = G, or None (equal widths: the CDFs never cross)."""
        if self.s1 == self.s2:
            return None
        return (self.m1 * self.s2 - self.m2 * self.s1) / (self.s2 - self.s1)

    def transport(self, x):
        """The monotone map T from p to q, T(x) = m2 + (s2 / s1) (x - m1)."""
        return self.m2 + self.s2 / self.s1 * (x - self.m1)


def _expected_abs(mean, variance):
    """E|Z| for Z ~ N(mean, variance)."""
    sd = math.sqrt(variance)
    return sd * math.sqrt(2.0 / math.pi) * math.exp(-0.5 * mean * mean / variance) + \
        mean * (1.0 - 2.0 * _Phi(-mean / sd))


def _kl(m1, s1, m2, s2):
    """KL(N(m1, s1^2) || N(m2, s2^2))."""
    return math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2.0 * s2 ** 2) - 0.5


def _js_quad(pair):
    """JS(p, q) in nats by adaptive quadrature (no closed form), from log-densities so that
    neither tail underflows before its contribution is negligible."""
    from scipy import integrate

    def integrand(x):
        lf = -0.5 * ((x - pair.m1) / pair.s1) ** 2 - math.log(pair.s1 * math.sqrt(2 * math.pi))
        lg = -0.5 * ((x - pair.m2) / pair.s2) ** 2 - math.log(pair.s2 * math.sqrt(2 * math.pi))
        lm = np.logaddexp(lf, lg) - math.log(2.0)
        return 0.5 * math.exp(lf) * (lf - lm) + 0.5 * math.exp(lg) * (lg - lm)

    reach = 40.0 * max(pair.s1, pair.s2)
    lo, hi = min(pair.m1, pair.m2) - reach, max(pair.m1, pair.m2) + reach
    value, _ = integrate.quad(integrand, lo, hi, points=pair.density_crossings() or None,
                              epsabs=1e-15, epsrel=1e-13, limit=500)
    return value


def exact(pair, name):
    """The distance ``name`` between the continuous Gaussians of ``pair`` (p first)."""
    m1, s1, m2, s2 = pair.m1, pair.s1, pair.m2, pair.s2
    if name == "kl":
        return _kl(m1, s1, m2, s2)
    if name == "reverse_kl":
        return _kl(m2, s2, m1, s1)
    if name == "js":
        return _js_quad(pair)
    if name == "hellinger":  # 1 - Bhattacharyya coefficient
        var = s1 ** 2 + s2 ** 2
        return 1.0 - math.sqrt(2.0 * s1 * s2 / var) * math.exp(-(m1 - m2) ** 2 / (4.0 * var))
    if name == "chi2":  # integral of f^2 / g, minus 1; finite iff 2 s2^2 > s1^2
        if 2 * s2 ** 2 <= s1 ** 2:
            return math.inf
        return s2 ** 2 / (s1 * math.sqrt(2 * s2 ** 2 - s1 ** 2)) * \
            math.exp((m1 - m2) ** 2 / (2 * s2 ** 2 - s1 ** 2)) - 1.0
    if name == "mmd":  # E k(X - X') + E k(Y - Y') - 2 E k(X - Y), each difference Gaussian
        b2 = BANDWIDTH ** 2

        def mean_kernel(mean, variance):
            return math.sqrt(b2 / (b2 + variance)) * math.exp(-0.5 * mean ** 2 / (b2 + variance))
        return (mean_kernel(0.0, 2 * s1 ** 2) + mean_kernel(0.0, 2 * s2 ** 2)
                - 2.0 * mean_kernel(m1 - m2, s1 ** 2 + s2 ** 2))
    if name == "w2":
        return math.hypot(m1 - m2, s1 - s2)
    if name == "w1":  # integral of |F - G|, split where the CDFs cross
        c = pair.cdf_crossing()
        if c is None:
            return abs(m1 - m2)

        def below(m, s):  # integral of the CDF of N(m, s^2) up to c
            z = (c - m) / s
            return s * (z * _Phi(z) + _phi(z))
        left = below(m1, s1) - below(m2, s2)
        return abs(left) + abs((m2 - m1) - left)  # the integral of F - G over R is m2 - m1
    if name == "tv":  # the CDF gap at the density crossings, where f - g changes sign
        gaps = [0.0, *(pair.cdf_gap(r) for r in pair.density_crossings()), 0.0]
        return 0.5 * sum(abs(b - a) for a, b in zip(gaps, gaps[1:]))
    if name == "ks":  # |F - G| is largest where f = g
        return max((abs(pair.cdf_gap(r)) for r in pair.density_crossings()), default=0.0)
    if name in ("energy", "cramer"):  # 2 E|X - Y| - E|X - X'| - E|Y - Y'|; cramer is half
        energy = (2.0 * _expected_abs(m1 - m2, s1 ** 2 + s2 ** 2)
                  - 2.0 * (s1 + s2) / math.sqrt(math.pi))
        return energy if name == "energy" else 0.5 * energy
    raise ValueError(f"no exact value for {name!r}")


def leading_error(pair, name, h):
    """The leading term of discretized minus exact ``name`` at cell width h (0 when no power
    of h appears); docs/grid-refinement.md derives each."""
    if name in SMOOTHED:
        # masses are cell integrals, i.e. samples of the densities smoothed by a box of width
        # h, whose variance h^2 / 12 is all that matters to order h^2 (Sheppard)
        return exact(pair.smoothed(h * h / 12.0), name) - exact(pair, name)
    if name == "w2":
        # each discrete quantile function is the continuous one plus a sawtooth, the
        # centre of the cell minus the point: W2_h^2 = W2^2 + E_p[(saw(X) - saw(T(X)))^2].
        # Between the edges and the edges' preimages under T the difference is linear in x,
        # so its square is integrated exactly there, against p at the piece's midpoint.
        lo, hi = pair.m1 - 12 * pair.s1, pair.m1 + 12 * pair.s1
        reach = [lo, hi, pair.transport(lo), pair.transport(hi)]
        edges = LOWER + h * np.arange(math.floor((min(reach) - LOWER) / h),
                                      math.ceil((max(reach) - LOWER) / h) + 1)
        preimages = pair.m1 + pair.s1 / pair.s2 * (edges - pair.m2)
        x = np.unique(np.concatenate([[lo, hi], edges, preimages]).clip(lo, hi))
        a, b = x[:-1], x[1:]
        mid = 0.5 * (a + b)

        def centre(y):
            return (np.floor((y - LOWER) / h) + 0.5) * h + LOWER
        offset = centre(mid) - centre(pair.transport(mid))
        da = offset - a + pair.transport(a)
        db = offset - b + pair.transport(b)
        density = np.exp(-0.5 * ((mid - pair.m1) / pair.s1) ** 2) * (b - a)
        squares = (da * da + da * db + db * db) / 3.0
        excess = float(np.sum(density * squares) / density.sum())
        w2 = exact(pair, "w2")
        return math.sqrt(w2 * w2 + excess) - w2
    if name == "w1":
        # h sum |F - G| at the edges is the midpoint rule of |F - G|: exact to all orders but
        # for its kink where the CDFs cross (Euler-Maclaurin across the kink)
        c = pair.cdf_crossing()
        if c is None:
            return 0.0
        return -abs(pair.pdf_gap(c)) * h * h * _bernoulli2(_frac(c, h))
    if name == "tv":
        # |cell integral of f - g| is the integral of |f - g| but in a cell where f - g
        # changes sign
        return -0.5 * sum(abs(pair.pdf_gap_slope(r)) * _to_nearest_edge(r, h) ** 2
                          for r in pair.density_crossings())
    if name == "ks":
        # the largest |F - G| over the edges misses the true maximum by a distance delta
        crossings = pair.density_crossings()
        if not crossings:
            return 0.0
        r = max(crossings, key=lambda x: abs(pair.cdf_gap(x)))
        return -0.5 * abs(pair.pdf_gap_slope(r)) * _to_nearest_edge(r, h) ** 2
    if name in SPECTRAL:
        return 0.0
    raise ValueError(f"no leading error for {name!r}")


def discretized(pair, n, names=DISTANCES):
    """{name: plugin value} between the two Gaussians discretized on n cells, and the mass
    each target lost beyond the grid, through the same plugins a scenario builds."""
    registry = plugins.registry()
    grid = Grid(LOWER, UPPER, n)
    where = os.path.basename(__file__)
    masses, outside = [], []
    for key, (mean, std) in (("p", (pair.m1, pair.s1)), ("q", (pair.m2, pair.s2))):
        target, _ = build(registry, "target", {"kind": "normal", "mean": mean, "std": std},
                          where, key)
        m, out = target.masses(grid)
        masses.append(m)
        outside.append(out)
    values = {}
    for name in names:
        spec = {"kind": name, "bandwidth": [BANDWIDTH]} if name == "mmd" else {"kind": name}
        distance, _ = build(registry, "distance", spec, where, name)
        if hasattr(distance, "setup"):
            distance.setup(grid)
        values[name] = distance.value(*masses)
    return values, max(outside)


def fitted_order(h, errors):
    """Least-squares slope of log |error| against log h over the errors above FLOOR; nan if
    fewer than two are."""
    keep = np.abs(errors) > FLOOR
    if keep.sum() < 2:
        return math.nan
    return float(np.polyfit(np.log(h[keep]), np.log(np.abs(errors[keep])), 1)[0])


@dataclasses.dataclass
class Table:
    """Errors (discretized minus exact) of each distance at each grid size."""

    pair: Pair
    sizes: np.ndarray
    h: np.ndarray
    exact: dict
    errors: dict  # name -> array over sizes
    leading: dict  # name -> array over sizes: leading_error
    outside: float  # the largest mass lost beyond the grid

    def orders(self, name):
        """Observed orders log(e_k / e_k+1) / log(h_k / h_k+1) between successive sizes; nan
        where either error is below FLOOR."""
        e = np.abs(self.errors[name])
        above = (e[:-1] > FLOOR) & (e[1:] > FLOOR)
        e = np.where(e > FLOOR, e, 1.0)
        return np.where(above, np.log(e[:-1] / e[1:]) / np.log(self.h[:-1] / self.h[1:]), np.nan)

    def order(self, name):
        """The fitted order of ``name`` over all sizes (see fitted_order)."""
        return fitted_order(self.h, self.errors[name])


def refinement_table(sizes=SIZES, pair=Pair(), names=DISTANCES):
    """The grid-refinement study at the given numbers of cells: a :class:`Table`."""
    sizes = np.asarray(sizes)
    h = (UPPER - LOWER) / sizes
    exact_values = {name: exact(pair, name) for name in names}
    errors = {name: np.empty(sizes.size) for name in names}
    leading = {name: np.empty(sizes.size) for name in names}
    outside = 0.0
    for k, n in enumerate(sizes):
        values, out = discretized(pair, int(n), names)
        outside = max(outside, out)
        for name in names:
            errors[name][k] = values[name] - exact_values[name]
            leading[name][k] = leading_error(pair, name, h[k])
    return Table(pair, sizes, h, exact_values, errors, leading, outside)


def _number(value, width, spec):
    """A right-aligned number, or '-' for nan (below the floor, or nothing to divide by)."""
    return f"{'-' if math.isnan(value) else format(value, spec):>{width}}"


def format_table(table):
    """The errors, the observed orders between successive sizes, the fitted order and the
    measured over the leading error at the finest grid, as text."""
    names = list(table.errors)
    p = table.pair
    lines = [f"p = N({p.m1:g}, {p.s1:g}^2), q = N({p.m2:g}, {p.s2:g}^2) on [{LOWER:g}, "
             f"{UPPER:g}]; mass beyond the grid <= {table.outside:.1e}",
             "discretized minus exact:",
             f"{'N':>11} {'exact':>10} " + " ".join(f"{n:>9}" for n in table.sizes)]
    for name in names:
        lines.append(f"{name:>11} {table.exact[name]:>10.6f} "
                     + " ".join(f"{e:>9.2e}" for e in table.errors[name]))
    lines += ["observed order between successive N, fitted order (errors > "
              f"{FLOOR:g}) and error / leading term at N = {table.sizes[-1]}:",
              f"{'N':>11} " + " ".join(f"{n:>6}" for n in table.sizes[1:])
              + f" {'fitted':>7} {'/leading':>9}"]
    for name in names:
        lead = table.leading[name][-1]
        ratio = table.errors[name][-1] / lead if lead != 0.0 else math.nan
        lines.append(f"{name:>11} " + " ".join(_number(o, 6, ".2f") for o in table.orders(name))
                     + " " + _number(table.order(name), 7, ".2f") + " " + _number(ratio, 9, ".4f"))
    return "\n".join(lines)


def plot(table):
    """|error| against h (log-log, fitted order in the legend) and error / h^2 against h,
    with each distance's leading term as open circles."""
    fig = Figure(figsize=(13, 5.2), layout="constrained")
    ax_err, ax_const = fig.subplots(1, 2)
    # ten colours for the distances with a power of h, black for those without
    colors = dict(zip([n for n in DISTANCES if n not in SPECTRAL], [f"C{i}" for i in range(10)]))
    for name, errors in table.errors.items():
        order = table.order(name)
        label = f"{name} ({order:.2f})" if math.isfinite(order) else f"{name} (no power of h)"
        color = colors.get(name, "k")
        style = dict(color=color, marker="o", ms=3, lw=1.3)
        if name in SPECTRAL:
            style.update(marker="s" if name == "energy" else "^", lw=0.8)
        ax_err.loglog(table.h, np.maximum(np.abs(errors), 1e-16), label=label, **style)
        if name in SPECTRAL:
            continue
        ax_const.semilogx(table.h, errors / table.h ** 2, label=name, **style)
        ax_const.semilogx(table.h, table.leading[name] / table.h ** 2, ls="none", marker="o",
                          ms=8, mfc="none", mec=color, mew=0.8)
    ax_err.loglog(table.h, 0.5 * table.h ** 2, color="k", ls=":", lw=1, label="h^2 / 2")
    ax_err.axhline(FLOOR, color="0.6", lw=0.8, ls="-.")
    ax_err.set_xlabel("cell width h")
    ax_err.set_ylabel("|discretized - exact|")
    ax_err.set_title(f"error (legend: fitted order in h, over errors > {FLOOR:g})")
    ax_err.legend(fontsize=7, ncol=2, loc="upper left")
    ax_const.axhline(0.0, color="0.6", lw=0.8)
    ax_const.set_xlabel("cell width h")
    ax_const.set_ylabel("(discretized - exact) / h^2")
    ax_const.set_title("error constant; open circles: the leading term derived")
    ax_const.legend(fontsize=7, ncol=2)
    p = table.pair
    fig.suptitle(f"grid refinement: p = N({p.m1:g}, {p.s1:g}^2) vs q = N({p.m2:g}, {p.s2:g}^2) "
                 f"on [{LOWER:g}, {UPPER:g}], N = {table.sizes[0]} ... {table.sizes[-1]} cells")
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=OUT)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args(argv)
    table = refinement_table(args.sizes)
    print(format_table(table))
    # equal widths: no CDF crossing (w1 loses its h^2 term) and one density crossing
    print()
    print(format_table(refinement_table(args.sizes, Pair(0.0, 1.0, 1.0, 1.0))))
    plot(table).savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
