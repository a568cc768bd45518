"""Maximum mean discrepancy on the grid, by FFT convolution or by the direct product.

MMD^2(p, q) = (p - q)^T K (p - q) with K_ij = k(x_i - x_j) (Gretton et al. 2012; the loss of
generative moment matching networks, Li, Swersky, Zemel 2015). On a uniform grid K is Toeplitz,
K_ij = c_{|i - j|} with c_m = k(m h), so K v is a linear convolution of v with c: zero-padded
to a length L >= 2N - 1, a circular convolution of length L equals it on the first N entries
(a circular length-N FFT would wrap the kernel's tail around and is wrong). The spectrum of the
padded kernel is computed once in ``setup``. The direct product, a double loop over the N
kernel values c_m (never the N x N matrix: 34 GB at N = 65536), is used for small N, where it
is faster, and as the tests' reference.

Sampled training uses ``sample_value_grad(x, y, unbiased)``: the MMD^2 between a data sample x
and a generated sample y, as the unbiased U-statistic (pairs i != j within each sample) or the
biased V-statistic (all pairs), with its gradient in the points y (Gretton et al. 2012, eqs. 3
and 5). The V-statistic exceeds the U-statistic's expectation by
(k(0) - E k(X, X')) / m + (k(0) - E k(Y, Y')) / n >= 0 for these kernels (m, n the sample sizes).
"""

import math

import numpy as np
from numba import njit

import gamesim
from gamesim.vecmath import filled

# The direct O(N^2) product is faster below about this many cells (2 cores, NumPy's
# pocketfft; crossover measured between 128 and 192 with benchmarks/bench_mmd.py --crossover).
FFT_FROM = 160


@njit(cache=True)
def _toeplitz_matvec(v, c, out):
    """out_i = sum_j c_{|i - j|} v_j."""
    n = v.size
    for i in range(n):
        acc = 0.0
        for j in range(i + 1):
            acc += c[i - j] * v[j]
        for j in range(i + 1, n):
            acc += c[j - i] * v[j]
        out[i] = acc


KERNEL_CODES = {"gaussian": 0, "laplacian": 1, "energy": 2}


@njit(cache=True)
def _pair_kernel(r, code, bandwidths):
    """(k(r), dk/dr) at the signed difference r = y - x, summed over the bandwidths."""
    if code == 2:
        return -abs(r), -1.0 if r > 0.0 else (1.0 if r < 0.0 else 0.0)
    k, dk = 0.0, 0.0
    for b in bandwidths:
        if code == 0:
            e = math.exp(-0.5 * (r / b) ** 2)
            k += e
            dk -= r / (b * b) * e
        else:
            e = math.exp(-abs(r) / b)
            k += e
            dk -= (1.0 if r > 0.0 else (-1.0 if r < 0.0 else 0.0)) / b * e
    return k, dk


@njit(cache=True)
def _sample_mmd(x, y, code, bandwidths, unbiased, grad):
    """MMD^2 of samples x (data) and y (generated), U- or V-statistic; grad = d/dy."""
    m, n = x.size, y.size
    cxx = 1.0 / (m * (m - 1)) if unbiased else 1.0 / (m * m)
    cyy = 1.0 / (n * (n - 1)) if unbiased else 1.0 / (n * n)
    cxy = 1.0 / (m * n)
    grad[:] = 0.0
    sxx, syy, sxy = 0.0, 0.0, 0.0
    for i in range(m):
        for j in range(i + 1, m):
            sxx += 2.0 * _pair_kernel(x[j] - x[i], code, bandwidths)[0]
    if not unbiased:
        sxx += m * _pair_kernel(0.0, code, bandwidths)[0]
    for i in range(n):
        for j in range(i + 1, n):
            k, dk = _pair_kernel(y[j] - y[i], code, bandwidths)
            syy += 2.0 * k
            grad[j] += 2.0 * cyy * dk
            grad[i] -= 2.0 * cyy * dk
    if not unbiased:
        syy += n * _pair_kernel(0.0, code, bandwidths)[0]
    for j in range(n):
        for i in range(m):
            k, dk = _pair_kernel(y[j] - x[i], code, bandwidths)
            sxy += k
            grad[j] -= 2.0 * cxy * dk
    return cxx * sxx + cyy * syy - 2.0 * cxy * sxy


def kernel_values(kernel, bandwidths, h, n):
    """c_m = k(m h) for m = 0 .. n - 1; a list of bandwidths sums the kernels."""
    r = np.arange(n) * h
    if kernel == "energy":
        return -r
    c = np.zeros(n)
    for b in bandwidths:
        c += np.exp(-0.5 * (r / b) ** 2) if kernel == "gaussian" else np.exp(-r / b)
    return c


def fft_length(n):
    """The smallest power of two >= 2n - 1 (linear, not circular, convolution)."""
    return 1 << (2 * n - 2).bit_length()


class MMD:
    """Squared maximum mean discrepancy (p - q)^T K (p - q) between the data and the generated
    masses (symmetric; >= 0 for these kernels, as rounding permits: a value below 0 is reported
    as 0). Kernels of the distance r = |x - y| between cell centres: ``gaussian``
    exp(-r^2 / (2 b^2)), ``laplacian`` exp(-r / b), each summed over the listed bandwidths b
    (so max k = number of bandwidths); ``energy`` -r (no bandwidth: MMD^2 is then the energy
    distance). Gradient 2 K (q - p)."""

    name = "mmd"
    out_methods = ("grad",)
    kernel: str = gamesim.param("gaussian", choices=("gaussian", "laplacian", "energy"),
                                help="kernel k(x, y) of r = |x - y|: gaussian exp(-r^2/(2b^2)), "
                                     "laplacian exp(-r/b), energy -r")
    bandwidth: list[float] = gamesim.param([1.0], gt=0,
                                           help="bandwidth b in the grid's units; a list sums "
                                                "one kernel per bandwidth (ignored by energy)")
    method: str = gamesim.param("auto", choices=("auto", "fft", "direct"),
                                help=f"K v by FFT convolution or the direct O(N^2) product; "
                                     f"auto: FFT from N = {FFT_FROM} cells")

    def setup(self, grid):
        n = grid.points
        self.c = kernel_values(self.kernel, self.bandwidth, grid.h, n)
        self.use_fft = self.method == "fft" or (self.method == "auto" and n >= FFT_FROM)
        if self.use_fft:
            self.length = fft_length(n)
            padded = np.zeros(self.length)
            padded[:n] = self.c
            padded[self.length - n + 1:] = self.c[:0:-1]  # c_{|m|} at negative lags m
            self.spectrum = np.fft.rfft(padded)

    def apply_kernel(self, v):
        """K v, v a vector of N cell values."""
        if not self.use_fft:
            return filled(_toeplitz_matvec, v, self.c)
        return np.fft.irfft(np.fft.rfft(v, self.length) * self.spectrum, self.length)[:v.size]

    def value(self, p, q):
        d = p - q
        return max(float(d @ self.apply_kernel(d)), 0.0)

    def grad(self, p, q, out=None):
        gap = np.subtract(q, p, out=out)  # out holds q - p until K (q - p) is known
        return np.multiply(self.apply_kernel(gap), 2.0, out=gap)

    def sample_value_grad(self, x, y, unbiased=True):
        """(MMD^2 estimate, its gradient in y) from a data sample x and a generated sample y:
        the U-statistic (unbiased; may be < 0) or the V-statistic (biased upwards; >= 0).
        O((m + n)^2) kernel evaluations per bandwidth."""
        grad = np.empty_like(y)
        value = _sample_mmd(x, y, KERNEL_CODES[self.kernel],
                            np.asarray(self.bandwidth, np.float64), unbiased, grad)
        return value, grad


@gamesim.hookimpl
def gamesim_register_distances(register):
    register(MMD)
