"""gamesim.vecmath: accuracy in ulps, special values, aliasing and calling conventions.

The reference is NumPy's 80-bit ``np.longdouble`` exp/log (x87 extended, 64-bit mantissa on
x86_64: its own error is ~2^-11 of a float64 ulp), cross-checked against mpmath when that is
installed. Errors are in units of the float64 ulp of the exact result (2^-1074 in the
subnormal range). All inputs come from fixed seeds.
"""

import math
import os
import platform
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

from gamesim.vecmath import exp_into, filled, log_into, max_of, sum_of, vexp, wide_vectors

LD = np.longdouble
if np.finfo(LD).nmant < 63:  # pragma: no cover - not x86_64 / long double is float64
    pytest.skip("needs an extended-precision np.longdouble reference", allow_module_level=True)

MAX_ULP = 2.0
LN2 = math.log(2.0)
O_THRESHOLD = 7.09782712893383973096e+02  # largest x with exp(x) finite
U_THRESHOLD = -7.45133219101941108420e+02  # exp(x) rounds to 0 below this


def ulp_error(got, ref):
    """|got - ref| in float64 ulps of ref; +-inf for a ref beyond the float64 overflow
    threshold (max double + half an ulp) counts as exact."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=LD)
    _, e = np.frexp(ref)
    ulp = np.maximum(np.ldexp(LD(1), (e - 53).astype(np.int32)), np.ldexp(LD(1), -1074))
    with np.errstate(invalid="ignore"):
        err = np.abs(got.astype(LD) - ref) / ulp
    overflow = np.abs(ref) >= np.ldexp(LD(2) - np.ldexp(LD(1), -53), 1023)
    rounds_to_inf = np.isinf(got) & overflow & (np.sign(got) == np.sign(ref))
    return np.where(rounds_to_inf, 0.0, err).astype(np.float64)


def powers_of_two():
    p = np.ldexp(1.0, np.arange(-1074, 1024))
    return np.concatenate([p, np.nextafter(p, 0.0), np.nextafter(p, np.inf)])


def log_inputs(rng):
    finite = rng.integers(1, 0x7FF0000000000000, 400_000, dtype=np.int64).view(np.float64)
    subnormal = rng.integers(1, 1 << 52, 50_000, dtype=np.int64).view(np.float64)
    near_one = np.concatenate([
        1.0 + rng.uniform(-0.3, 0.42, 200_000),
        1.0 + rng.uniform(-1e-6, 1e-6, 50_000),
        1.0 + np.arange(-5000, 5001) * 2.0**-53,
    ])
    # the reduction's boundary m = sqrt(2)/2 (bits 0x3fe6a09e...) in every binade
    edge = np.ldexp(np.sqrt(0.5), np.arange(-1060, 1023))
    edges = np.concatenate([edge, np.nextafter(edge, 0.0), np.nextafter(edge, np.inf)])
    extremes = np.array([5e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
                         1.7976931348622157e308, 1.0, 2.0, 0.5, math.e, 10.0])
    x = np.concatenate([finite, subnormal, near_one, powers_of_two(), edges, extremes])
    return x[x > 0.0]


def exp_inputs(rng):
    full = rng.uniform(U_THRESHOLD - 1.0, O_THRESHOLD, 400_000)
    # random bit patterns with |x| from the smallest subnormal to 746, both signs
    bits = rng.integers(1, np.float64(746.0).view(np.int64), 200_000, dtype=np.int64)
    magnitudes = bits.view(np.float64) * rng.choice([-1.0, 1.0], bits.size)
    near_zero = np.concatenate([rng.uniform(-1.0, 1.0, 100_000), rng.uniform(-1e-8, 1e-8, 10_000),
                                np.arange(-5000, 5001) * 2.0**-60])
    subnormal_out = rng.uniform(-745.2, -708.3, 100_000)
    # near the thresholds, ulp by ulp
    steps = np.arange(-2000, 2001)
    thresholds = np.concatenate([
        O_THRESHOLD + steps * np.spacing(O_THRESHOLD),
        U_THRESHOLD + steps * np.spacing(U_THRESHOLD),
        -708.3964185322641 + steps * np.spacing(708.0),  # exp(x) = smallest normal
    ])
    # x = (k + 1/2) ln 2: where the rounding of k switches; and x = k ln2
    k = np.arange(-1075, 1025)
    ties = np.concatenate([(k + 0.5) * LN2, np.nextafter((k + 0.5) * LN2, np.inf), k * LN2])
    ties = ties[(ties > U_THRESHOLD - 1.0) & (ties < O_THRESHOLD)]
    tiny = np.ldexp(1.0, np.arange(-1074, -20))
    tiny = np.concatenate([tiny, -tiny])
    return np.concatenate([full, magnitudes, near_zero, subnormal_out, thresholds, ties, tiny])


def test_log_accuracy():
    """log_into within 2 ulp everywhere. Measured max on these 722552 inputs: 0.80 ulp
    (NumPy/glibc: 0.52); 0.86 ulp over 1.2e8 random inputs while developing."""
    x = log_inputs(np.random.default_rng(20240611))
    got = log_into(x, np.empty_like(x))
    err = ulp_error(got, np.log(x.astype(LD)))
    assert err.max() <= MAX_ULP, (err.max(), x[np.argmax(err)].hex())
    assert err.max() < 1.0  # fdlibm's bound; documented in the module
    # and it agrees with NumPy except for the last bit in a few cases
    assert ulp_error(got, np.log(x)).max() <= 1.0
    assert np.mean(got == np.log(x)) > 0.95


def test_exp_accuracy():
    """exp_into within 2 ulp everywhere (the subnormal ulp in the subnormal range). Measured
    max on these 840409 inputs: 0.86 ulp (NumPy/glibc: 0.51), 0.74 subnormal ulp on the
    116082 subnormal results."""
    # and the worst case a search near (k + 1/2) ln 2 found: 0.8996 ulp (mpmath agrees)
    x = np.append(exp_inputs(np.random.default_rng(20240612)),
                  float.fromhex("-0x1.341a9a9dcbc22p+8"))
    got = exp_into(x, np.empty_like(x))
    with np.errstate(over="ignore"):
        ref = np.exp(x.astype(LD))
        expected_np = np.exp(x)
    err = ulp_error(got, ref)
    assert err.max() <= MAX_ULP, (err.max(), x[np.argmax(err)].hex())
    assert err.max() < 1.0 and err[-1] > 0.89
    # overflow and underflow exactly where NumPy (glibc) has them
    assert np.array_equal(np.isinf(got), np.isinf(expected_np))
    assert np.array_equal(got == 0.0, expected_np == 0.0)
    assert np.mean(got == expected_np) > 0.9


# A bare x86-64: SSE2 only, no FMA (llvm.fma becomes a call to the C library's fma), no AVX.
BARE_X86_64 = {"NUMBA_CPU_NAME": "x86-64",
               "NUMBA_CPU_FEATURES": "+64bit,+sse,+sse2,+cmov,+cx8,+fxsr,+mmx"}
SAME_BITS_SCRIPT = """
import hashlib, sys
import numpy as np
from gamesim.vecmath import exp_into, log_into
rng = np.random.default_rng(5)
x = np.concatenate([rng.uniform(-750.0, 710.0, 50_000), rng.uniform(-1.0, 1.0, 50_000)])
y = np.exp(rng.uniform(-745.0, 709.0, 100_000))
e, g = exp_into(x, np.empty_like(x)), log_into(y, np.empty_like(y))
code = exp_into.inspect_asm(exp_into.signatures[0]) + log_into.inspect_asm(log_into.signatures[0])
assert "vmulpd" in code or "mulsd" in code, "no assembly: compiled code was not inspected"
print(hashlib.sha256(e.tobytes() + g.tobytes()).hexdigest(), "vfmadd" in code)
"""


@pytest.mark.skipif(platform.machine() != "x86_64" or not os.path.exists("/proc/cpuinfo"),
                    reason="compiles for a bare x86-64 and reads the CPU's features on Linux")
def test_same_bits_without_fma_or_avx(tmp_path):
    """The results do not depend on the machine: compiled for a bare x86-64 (no FMA, no AVX,
    so scalar code and calls to the C library's correctly rounded fma) they are the same bits
    as compiled for this machine. (On a CPU with FMA, glibc's fma itself uses the instruction:
    its software path, exact by the C standard, is not exercised here.)"""
    def run(name, env):
        # a fresh cache each: the assembly is inspected, which Numba allows only when compiled
        out = subprocess.run([sys.executable, "-c", SAME_BITS_SCRIPT], capture_output=True,
                             text=True, check=True,
                             env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / name), **env})
        return out.stdout.split()

    cpu = open("/proc/cpuinfo").read()
    native, native_fma = run("native", {})
    bare, bare_fma = run("bare", BARE_X86_64)
    assert native_fma == str(" fma " in cpu)
    assert bare_fma == "False"  # really compiled without FMA instructions
    assert bare == native
    # wide_vectors changes the width only where the CPU has AVX-512F, never the results
    if " avx512f " in cpu:
        @njit
        def wide_exp(x, out):
            wide_vectors()
            for i in range(x.size):
                out[i] = vexp(x[i])

        @njit
        def narrow_exp(x, out):
            for i in range(x.size):
                out[i] = vexp(x[i])

        x = np.linspace(-700.0, 700.0, 1001)
        wide, narrow = np.empty_like(x), np.empty_like(x)
        wide_exp(x, wide), narrow_exp(x, narrow)
        assert np.array_equal(wide, narrow)
        # (whether the narrow one avoids zmm depends on LLVM's tuning for the CPU)
        assert "zmm" in wide_exp.inspect_asm(wide_exp.signatures[0])


def test_thresholds():
    assert np.isfinite(exp_into(np.array([O_THRESHOLD]), np.empty(1))[0])
    assert exp_into(np.array([np.nextafter(O_THRESHOLD, np.inf)]), np.empty(1))[0] == np.inf
    below = np.nextafter(U_THRESHOLD, -np.inf)
    out = exp_into(np.array([U_THRESHOLD, below, -746.0, -1e4, -1e308]), np.empty(5))
    assert out[0] == 5e-324 and np.all(out[1:] == 0.0)
    out = exp_into(np.array([710.0, 1e4, 1e308, 1.7976931348622157e308]), np.empty(4))
    assert np.all(out == np.inf)
    tiny_normal = np.log(2.2250738585072014e-308)  # -708.3964...
    assert exp_into(np.array([tiny_normal]), np.empty(1))[0] == np.exp(tiny_normal)


def test_special_values():
    nan, inf = np.nan, np.inf
    x = np.array([0.0, -0.0, inf, -inf, nan, -nan, -1.0, -5e-324, -1.7976931348622157e308,
                  5e-324, 1.0])
    lg = log_into(x, np.empty_like(x))
    assert lg[0] == -inf and lg[1] == -inf and lg[2] == inf
    assert np.all(np.isnan(lg[3:9]))
    assert lg[9] == np.log(5e-324) and lg[10] == 0.0 and not np.signbit(lg[10])
    ex = exp_into(x, np.empty_like(x))
    assert ex[0] == 1.0 and ex[1] == 1.0 and ex[2] == inf and ex[3] == 0.0
    assert np.isnan(ex[4]) and np.isnan(ex[5])
    assert ex[8] == 0.0 and ex[9] == 1.0
    assert ex[10] == math.e  # correctly rounded (fdlibm's exp, before, rounded it up)
    assert exp_into(np.array([-0.0, 1e-300, -1e-300]), np.empty(3))[0] == 1.0


def test_nan_payloads():
    """Quiet and signalling NaNs of either sign give NaN, in place or not."""
    bits = np.array([0x7FF0000000000001, 0x7FF8000000000000, 0x7FF4000000000000,
                     0x7FFFFFFFFFFFFFFF], dtype=np.uint64)
    x = np.concatenate([bits, bits | np.uint64(1 << 63)]).view(np.float64)
    for f in (log_into, exp_into):
        assert np.all(np.isnan(f(x, np.empty_like(x))))
        y = x.copy()
        assert np.all(np.isnan(f(y, y)))


def test_mpmath_cross_check():
    """The longdouble reference itself, and the worst cases, against 120-bit mpmath."""
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(7)
    bits = rng.integers(1, 0x7FF0000000000000, 300, dtype=np.int64)
    xl = np.concatenate([bits.view(np.float64), [float.fromhex("0x1.66d95aadc1c6dp+0"), 5e-324]])
    worst_exp = [float.fromhex("0x1.0687b6f1acdf6p+9"), float.fromhex("-0x1.628b431303479p+9")]
    xe = np.concatenate([rng.uniform(-745.2, 709.7, 300), worst_exp])
    with mpmath.workprec(120):
        ref_l = np.array([LD(str(mpmath.log(mpmath.mpf(float(v))))) for v in xl])
        ref_e = np.array([LD(str(mpmath.exp(mpmath.mpf(float(v))))) for v in xe])
    assert ulp_error(np.log(xl.astype(LD)).astype(np.float64), ref_l).max() <= 0.5 + 1e-3
    assert ulp_error(log_into(xl, np.empty_like(xl)), ref_l).max() < 1.0
    assert ulp_error(exp_into(xe, np.empty_like(xe)), ref_e).max() < 1.0


def test_in_place_strided_and_sizes():
    rng = np.random.default_rng(3)
    x = rng.uniform(-50.0, 50.0, 1001)
    expected = exp_into(x, np.empty_like(x))
    y = x.copy()
    assert exp_into(y, y) is y and np.array_equal(y, expected)
    pos = np.abs(x) + 1e-300
    expected = log_into(pos, np.empty_like(pos))
    z = pos.copy()
    assert log_into(z, z) is z and np.array_equal(z, expected)
    # strided input and output (non-contiguous layout)
    big = np.repeat(pos, 2)
    out = np.zeros(2 * pos.size)
    log_into(big[::2], out[1::2])
    assert np.array_equal(out[1::2], expected) and not out[::2].any()
    # empty arrays, size mismatch
    assert exp_into(np.empty(0), np.empty(0)).size == 0
    with pytest.raises(ValueError):
        log_into(np.ones(3), np.empty(4))


def test_callable_from_njit():
    @njit
    def shifted_exp(v, shift, out):
        for i in range(v.size):
            out[i] = v[i] - shift
        return exp_into(out, out)

    v = np.random.default_rng(5).normal(size=257) * 30.0
    p = shifted_exp(v, v.max(), np.empty_like(v))
    np.testing.assert_allclose(p, np.exp(v - v.max()), rtol=3e-16, atol=0)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 1001])
def test_sum_and_max_in_four_chains(n):
    rng = np.random.default_rng(n)
    x = rng.normal(size=n) * rng.choice([1e-3, 1.0, 1e3], size=n)
    # any summation order is within n eps sum |x| of the exact sum
    assert abs(sum_of(x) - math.fsum(x)) <= n * 2.0 ** -53 * np.abs(x).sum()
    assert max_of(x) == (x.max() if n else -math.inf)
    if n >= 4:
        # the order is fixed by the code: residues first, then ((s0 + s1) + (s2 + s3))
        tail = n - n % 4
        parts = [x[k:tail:4].tolist() for k in range(4)]
        chains = [0.0] * 4
        for k in range(4):
            for v in parts[k]:
                chains[k] += v
        for v in x[tail:]:
            chains[0] += v
        assert sum_of(x) == (chains[0] + chains[1]) + (chains[2] + chains[3])


def test_max_keeps_infinities():
    assert max_of(np.array([-math.inf, -math.inf])) == -math.inf
    assert max_of(np.array([1.0, -math.inf, math.inf, 2.0, 0.0])) == math.inf
    assert sum_of(np.array([1.0, math.inf, 2.0, 3.0, 4.0])) == math.inf


def test_filled_makes_and_returns_the_output():
    @njit
    def add(a, b, out):
        for i in range(a.size):
            out[i] = a[i] + b
    out = filled(add, np.arange(3.0), 0.5)
    assert out.tolist() == [0.5, 1.5, 2.5] and out.dtype == np.float64
