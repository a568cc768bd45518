"""Vectorizable float64 ``log`` and ``exp`` for Numba kernels, and the small pieces every hot
kernel needs: sums and maxima in four chains (:func:`sum_of`, :func:`max_of`),
:func:`wide_vectors` (512-bit vectors where the CPU has them) and :func:`filled`, the calling
convention of kernels that return no array.

Why this exists
---------------
Numba 0.62+ ships without Intel SVML, so ``math.exp``/``math.log`` inside an ``@njit`` loop are
calls to the scalar libm (about 4-9 ns each on the reference machine, depending on its load)
and the loop cannot be vectorized; NumPy's float64 ``np.exp``/``np.log`` are not SIMD on AVX2
either (only the AVX-512F build has SIMD float64 exp/log). The game's hot loops evaluate one
log-ratio per grid cell and one softmax exp per cell per iteration, so these two functions
dominate them.

:func:`log_into` and :func:`exp_into` evaluate the classic fdlibm algorithm (Sun, 1993; as in
musl) for log and a division-free polynomial for exp, with nothing in the loop body but IEEE arithmetic,
fused multiply-adds, 64-bit integer adds, masks and shifts, bit casts and branch-free selects.
LLVM auto-vectorizes them (4 doubles per ``ymm`` register on AVX2, 8 per ``zmm`` in kernels
that call :func:`wide_vectors` on AVX-512 machines). benchmarks/bench_fastmath.py, medians
at N = 8192 and 65536 on an Intel Xeon (Emerald Rapids) with AVX-512: 2.2 ns (log) and
1.8 ns (exp) an element, against NumPy's AVX-512 1.4-1.7 and 1.35 ns (so 1.3x-1.5x NumPy's
time) and scalar libm's 8 ns; on an AMD EPYC Zen 3 (AVX2: 4 doubles a vector) 2.4-2.5 ns
(log) and 1.6-1.7 ns (exp) against NumPy's scalar 8.5 and 5.4-5.6 ns.
On an x86-64 CPU without FMA (before 2013, or an emulator's generic CPU) each fused
multiply-add is a call to the C library and the loops no longer vectorize: about 14 (log)
and 18 ns (exp) an element, slower than scalar libm; that is the price of the same bits.

Method
------
``log(x)``
    Subnormal ``x`` is first multiplied by 2^54 (exact) and 54 is subtracted from the
    exponent. Through the bits, ``x = 2^k * m`` with ``m`` in [sqrt(2)/2, sqrt(2)); then
    with ``f = m - 1``, ``s = f / (2 + f)``, ``log(m) = f - f^2/2 + s (f^2/2 + R(s^2))``, ``R``
    the degree-14 fdlibm minimax polynomial (Lg1..Lg7, in fdlibm's two interleaved chains),
    and ``log(x) = k ln2_hi + (f - (hfsq - (s (hfsq + R) + k ln2_lo)))`` with ln2 split in two
    (``k ln2_hi`` is exact). This is fdlibm's ``e_log.c`` operation for operation, except
    that the polynomial steps and the product ``s (hfsq + R)`` are fused multiply-adds.
``exp(x)``
    ``k = round(x / ln 2)`` by the round-to-nearest "shifter" trick (``x/ln2 + 1.5*2^52``,
    whose low mantissa bits are ``k``, so no float-to-int conversion is needed), Cody-Waite
    reduction ``r = hi - lo``, ``hi = x - k ln2_hi`` (exact), ``lo = k ln2_lo``,
    ``|r| <= ~0.347``; then ``exp(r) = 1 + (hi + (r^2 q(r) - lo))`` with ``q`` of degree 10
    interpolating ``(exp(r) - 1 - r) / r^2`` at Chebyshev nodes (relative error 2.3e-19),
    evaluated by Estrin's scheme in fused multiply-adds. ``lo`` enters unrounded, so the
    rounding of ``r`` reaches only ``r^2 q``. No division: a division unit finishes one
    float64 every 2 cycles or so, slower than the whole polynomial. Then scaling by ``2^k``
    in two exact steps ``(y * 2^floor(k/2)) * 2^(k - floor(k/2))`` with both factors built
    from the exponent bits. Only the last multiplication can round, so results in the
    subnormal range and the overflow to +inf are obtained by one correctly rounded scaling,
    like fdlibm's ``scalbn``. ``x`` is clamped to [-1100, 1100] first (values outside give 0
    or +inf anyway).

Accuracy
--------
fdlibm's error analysis bounds log at < 1 ulp; for exp the rounding of ``hi + (r^2 q - lo)``
(at most a quarter of an ulp of the result) and of the final ``1 + ...`` (half an ulp)
dominate, with the rounding of ``r`` inside ``r^2 q`` and of the polynomial's steps adding
about a tenth. Measured against an 80-bit ``np.longdouble`` reference (itself checked
against mpmath) over the whole range, subnormals, powers of two, values near 1 (log) and near
0 (exp), and the overflow and underflow thresholds (tests/test_fastmath.py): max 0.80 ulp for
log and 0.86 ulp for exp on the tests' inputs; a search near the reduction's worst cases
found 0.85 (log, near 1) and 0.90 (exp, near (k + 1/2) ln 2, where fdlibm's exp gave 0.92).
NumPy/glibc: about 0.52. In the subnormal output range of exp the unit is the subnormal ulp
2^-1074 (there the 53-bit result is rounded a second time by the scaling; measured max
0.75). Callers may rely on < 1 ulp; the tests assert <= 2. About 90 % (exp, uniform inputs)
and 98 % (log) of results are bit-identical to NumPy's, the rest differ by one ulp. ``log(1) = 0``, ``exp(0) = 1``, ``exp(1) = e`` and
``log(2^k) = k ln 2`` (correctly rounded) are exact.

Special cases (identical to ``np.log``/``np.exp``; nothing raises or warns, though the
hardware status flags, which Numba never reads, may be set):
``log(+-0) = -inf``, ``log(+inf) = +inf``, ``log(x < 0) = nan`` (including ``-inf`` and
negative subnormals), ``log(nan) = nan``; ``exp(-inf) = 0``, ``exp(+inf) = +inf``,
``exp(x) = +inf`` for ``x > 709.782712893384``, ``exp(x) = 0`` for ``x < -745.1332191019412``
(and subnormal results between about -745.13 and -708.40), ``exp(nan) = nan``.
A NaN input gives a NaN (of unspecified sign and payload, as with NumPy).

Compilation flags
-----------------
``fastmath=False`` (no flag at all): the code is vectorized without any fast-math flag, so
nothing reassociates, contracts to FMA, or assumes no NaN/inf (``nnan``/``ninf`` would let LLVM
delete the special-case selects, ``reassoc`` would fold ``(z + shifter) - shifter`` and break
the rounding trick). The fused multiply-adds are written out (LLVM's ``llvm.fma``: a vector
FMA instruction where the CPU has one, the C library's correctly rounded ``fma`` elsewhere),
never left to contraction, which would depend on the target: the results are the same bits
on every machine, with or without FMA, AVX2 or AVX-512 (tested by compiling for a bare x86-64
in a subprocess). ``error_model="numpy"``
is required: with Numba's default "python" error model every float division checks for a zero
divisor and raises ZeroDivisionError, a branch that blocks vectorization (log's divisor
``2 + f`` is never zero).

Bit casts are done by two tiny Numba intrinsics (an LLVM ``bitcast``, which vectorizes for
free) instead of writing through scratch arrays and ``.view``: one pass over the data.

Usage and caveats
-----------------
``x`` and ``out`` are 1-D float64 arrays of the same size (ValueError otherwise). Contiguous
arrays vectorize; strided views work at scalar speed. ``out`` may be ``x`` itself (in place;
a dedicated single-array loop keeps that case vectorized) or a disjoint array, but must not
*partially* overlap ``x`` (e.g. ``x[1:]`` and ``x[:-1]``): that is detected at run time and
runs as the plain sequential loop, so later inputs are read after being overwritten. No
alignment is required. Both functions return ``out``, release the GIL, and can be called
from other ``@njit`` kernels or from Python.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# ------------------------------------------------------------------------------------------
# Bit casts between float64 and int64 (an LLVM bitcast: no instruction at all for a vector).


@intrinsic
def _bits(typingctx, x):
    """The IEEE-754 bits of a float64 as an int64."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, i):
    """The float64 whose IEEE-754 bits are the int64 ``i``."""
    if i != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (LLVM's ``llvm.fma``): a vector FMA instruction where the CPU
    has one, the C library's correctly rounded ``fma`` elsewhere, so the same bits."""
    if not a == b == c == types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return types.float64(types.float64, types.float64, types.float64), codegen


@intrinsic
def wide_vectors(typingctx):
    """Call first in a kernel whose loops are arithmetic-bound (exp, log): lets LLVM vectorize
    them 512 bits wide where the CPU has AVX-512. LLVM otherwise keeps to 256 bits on Intel
    server CPUs, a guard against the clock drop of older AVX-512 parts (Skylake-SP, Cascade
    Lake: not measured there); elementwise results do not depend on the width, and without
    AVX-512 nothing changes."""

    def codegen(context, builder, signature, args):
        # a string attribute, which llvmlite's checked ``attributes.add`` does not accept;
        # should a later llvmlite store attributes otherwise, the kernel just stays 256 bits
        attributes = builder.function.attributes
        if isinstance(attributes, set):
            set.add(attributes, '"prefer-vector-width"="512"')
        return context.get_dummy_value()

    return types.none(), codegen


_JIT = dict(cache=True, fastmath=False, error_model="numpy", nogil=True)
_INLINE = dict(_JIT, inline="always")

# ------------------------------------------------------------------------------------------
# log: fdlibm e_log.c

_LN2_HI = 6.93147180369123816490e-01  # 0x3fe62e42fee00000 (low 21 bits zero: k*LN2_HI exact)
_LN2_LO = 1.90821492927058770002e-10  # 0x3dea39ef35793c76
_LG1 = 6.666666666666735130e-01  # 0x3FE5555555555593
_LG2 = 3.999999999940941908e-01  # 0x3FD999999997FA04
_LG3 = 2.857142874366239149e-01  # 0x3FD2492494229359
_LG4 = 2.222219843214978396e-01  # 0x3FCC71C51D8E78AF
_LG5 = 1.818357216161805012e-01  # 0x3FC7466496CB03DE
_LG6 = 1.531383769920937332e-01  # 0x3FC39A09D078C69F
_LG7 = 1.479819860511658591e-01  # 0x3FC2F112DF3E5244

_TINY = 2.2250738585072014e-308  # smallest normal double, 2^-1022
_TWO54 = 18014398509481984.0  # 2^54
_SHIFTER = 6755399441055744.0  # 1.5 * 2^52: x + _SHIFTER rounds x to an integer in its bits
_SHIFTER_BITS = 0x4338000000000000
_SQRT_HALF_HI = 0x3FE6A09E00000000  # high word of sqrt(2)/2, in the high 32 bits
_MANT = 0x000FFFFFFFFFFFFF


@njit(**_INLINE)
def vlog(x):
    """log of one float64, branch-free (see the module docstring). Inlined: call it inside
    your own loop (compiled with ``error_model="numpy"``, no fastmath) to fuse it."""
    sub = x < _TINY  # subnormal (and zero, negative, -inf): harmless, fixed at the end
    xs = x * _TWO54 if sub else x
    adj = -54.0 if sub else 0.0
    ix = _bits(xs) + (0x3FF0000000000000 - _SQRT_HALF_HI)
    # biased exponent of m * 2^k with m in [sqrt(2)/2, sqrt(2)); the mask keeps it in
    # [0, 2047] whatever the sign bit was (negative inputs are replaced below)
    e = (ix >> 52) & 0x7FF
    # k as a float without an int64 -> float conversion (not a vector instruction on AVX2)
    dk = (_from_bits(_SHIFTER_BITS + e) - (_SHIFTER + 1023.0)) + adj
    m = _from_bits((ix & _MANT) + _SQRT_HALF_HI)
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * _fma(w, _fma(w, _LG6, _LG4), _LG2)
    t2 = z * _fma(w, _fma(w, _fma(w, _LG7, _LG5), _LG3), _LG1)
    r = t2 + t1
    y = _fma(s, hfsq + r, dk * _LN2_LO) - hfsq + f + dk * _LN2_HI
    y = -np.inf if x == 0.0 else y  # +-0
    y = y if x >= 0.0 else np.nan  # negative (-0 excepted), -inf, nan
    return np.inf if x == np.inf else y


@njit(**_JIT)
def log_into(x, out):
    """``out[i] = log(x[i])`` for 1-D float64 arrays (``out`` may be ``x``); returns ``out``.

    Within 1 ulp (fdlibm's algorithm), subnormals included; log(+-0) = -inf,
    log(+inf) = +inf, log(x < 0) = log(nan) = nan.
    """
    wide_vectors()
    n = x.size
    if out.size != n:
        raise ValueError("log_into: x and out differ in size")
    if x.ctypes.data == out.ctypes.data and x.strides[0] == out.strides[0]:
        for i in range(n):  # in place: one array, so no runtime alias check defeats SIMD
            out[i] = vlog(out[i])
    else:
        for i in range(n):
            out[i] = vlog(x[i])
    return out


# ------------------------------------------------------------------------------------------
# exp: Cody-Waite reduction, a polynomial of degree 12, two-step scaling

_INV_LN2 = 1.44269504088896338700e+00  # 0x3ff71547652b82fe
# (exp(r) - 1 - r) / r^2 on |r| <= ln2/2: interpolation at 11 Chebyshev nodes (computed with
# mpmath at 60 digits), relative error 2.3e-19 of exp(r)
_E0 = 0.5
_E1 = 0.1666666666666667  # 0x1.5555555555557p-3
_E2 = 0.04166666666666667  # 0x1.5555555555556p-5
_E3 = 0.008333333333326136  # 0x1.11111111100dcp-7
_E4 = 0.0013888888888883748  # 0x1.6c16c16c162d4p-10
_E5 = 0.00019841269874820627  # 0x1.a01a01abe7fe1p-13
_E6 = 2.4801587325547743e-05  # 0x1.a01a01a6d889cp-16
_E7 = 2.7557255400206422e-06  # 0x1.71de0231960ebp-19
_E8 = 2.75572736431103e-07  # 0x1.27e4db646b17ep-22
_E9 = 2.5105217004720745e-08  # 0x1.af4de97ca4194p-26
_E10 = 2.0914686968086876e-09  # 0x1.1f730349868cep-29
_CLAMP = 1100.0  # |x| beyond this gives 0 or inf anyway; keeps k in [-1587, 1587]
_HALF_BIAS = 1 << 50  # floor(k/2) = ((k + 2^51) >> 1) - 2^50 with k + 2^51 >= 0


@njit(**_INLINE)
def vexp(x):
    """exp of one float64, branch-free (see the module docstring). Inlined: call it inside
    your own loop (compiled with ``error_model="numpy"``, no fastmath) to fuse it."""
    xc = -_CLAMP if x < -_CLAMP else x
    xc = _CLAMP if xc > _CLAMP else xc
    t = xc * _INV_LN2 + _SHIFTER  # k = round(xc / ln2) is now in the low mantissa bits
    kd = t - _SHIFTER
    hi = xc - kd * _LN2_HI  # exact: kd has <= 11 bits, _LN2_HI 32
    lo = kd * _LN2_LO
    r = hi - lo
    r2 = r * r
    r4 = r2 * r2
    # Estrin's scheme: independent chains instead of ten dependent steps
    q01 = _fma(r2, _fma(r, _E3, _E2), _fma(r, _E1, _E0))
    q23 = _fma(r2, _fma(r, _E7, _E6), _fma(r, _E5, _E4))
    q45 = _fma(r2, _E10, _fma(r, _E9, _E8))
    q = _fma(r4 * r4, q45, _fma(r4, q23, q01))
    # exp(r) = 1 + (hi - lo + r^2 q): lo enters unrounded, so r's rounding only reaches r^2 q
    y = 1.0 + (hi + _fma(r2, q, -lo))  # in [0.70, 1.42]
    # 2^k in two exact factors 2^k1 * 2^k2, k1 = floor(k/2), each in [-794, 794]; the
    # low 52 bits of t hold k + 2^51 >= 0, so every shift below is a logical one
    u = _bits(t) & _MANT
    k1 = (u >> 1) - _HALF_BIAS
    k2 = (u - (1 << 51)) - k1
    # nan needs no select: the clamps keep it and every float operation propagates it (from
    # a nan's payload bits the integer part builds some +-0, +-2^j or +-inf: nan * that = nan)
    return (y * _from_bits((k1 + 1023) << 52)) * _from_bits((k2 + 1023) << 52)


@njit(**_JIT)
def exp_into(x, out):
    """``out[i] = exp(x[i])`` for 1-D float64 arrays (``out`` may be ``x``); returns ``out``.

    Within 1 ulp over the whole range, subnormal results included;
    exp(-inf) = 0, exp(+inf) = +inf, overflow to +inf above 709.78, nan -> nan.
    """
    wide_vectors()
    n = x.size
    if out.size != n:
        raise ValueError("exp_into: x and out differ in size")
    if x.ctypes.data == out.ctypes.data and x.strides[0] == out.strides[0]:
        for i in range(n):
            out[i] = vexp(out[i])
    else:
        for i in range(n):
            out[i] = vexp(x[i])
    return out


# ------------------------------------------------------------------------------------------
# Reductions in four independent chains
#
# Without fast-math flags LLVM may not reorder a floating-point reduction, so ``s += x[i]``
# is one chain of dependent additions, bound by the adder's latency (about 4 cycles an
# element). Four partial results, combined at the end, run four chains at once. The order of
# the operations is fixed by the code, so the results are the same bits on every machine.


@njit(**_JIT)
def sum_of(x):
    """The sum of a 1-D float64 array, as ((s0 + s1) + (s2 + s3)) over the four residues
    of the index mod 4 (then the last size % 4 entries added to s0)."""
    n = x.size
    s0 = s1 = s2 = s3 = 0.0
    i = 0
    while i + 4 <= n:
        s0 += x[i]
        s1 += x[i + 1]
        s2 += x[i + 2]
        s3 += x[i + 3]
        i += 4
    while i < n:
        s0 += x[i]
        i += 1
    return (s0 + s1) + (s2 + s3)


@njit(**_JIT)
def max_of(x):
    """The largest entry of a 1-D float64 array (-inf if empty), in four chains."""
    n = x.size
    m0 = m1 = m2 = m3 = -np.inf
    i = 0
    while i + 4 <= n:
        m0 = max(m0, x[i])
        m1 = max(m1, x[i + 1])
        m2 = max(m2, x[i + 2])
        m3 = max(m3, x[i + 3])
        i += 4
    while i < n:
        m0 = max(m0, x[i])
        i += 1
    return max(max(m0, m1), max(m2, m3))


# ------------------------------------------------------------------------------------------
# Calling kernels


def filled(kernel, *args, out=None):
    """``kernel(*args, out)`` on ``out``, a new float64 array the size of ``args[0]`` unless
    given (a plugin's ``out=`` buffer: docs/plugins.md, "Protocols"), returned.

    Kernels called every iteration fill an array and return nothing: Numba boxes a returned
    array by unpickling its type, about 0.5 us a call, as long as the work at a few hundred
    cells.
    """
    if out is None:
        out = np.empty(args[0].size)
    kernel(*args, out)
    return out
