"""e^x written out, the same bits on every CPU: for one picture's answer.

NumPy's exp (and expm1, tanh, exp2, power) has AVX-512 code whose last
bits differ from its code for other CPUs, and SciPy's expit calls the C
library's exp, whose code the C library also chooses by CPU. So the
exponential of a picture's probability is written here from what IEEE 754
defines exactly and NumPy computes alike on every CPU: + - * / (each
rounded once, never fused), rint, and ldexp. `tests/test_portable_exp.py` holds
it to math.exp and to itself with NumPy's AVX-512 code switched off.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["portable_exp"]

#: ln 2 = _LN2_HI + _LN2_LO to about 2^-86: _LN2_HI has 32 significant
#: bits, so k * _LN2_HI is exact for every k that x can give (|k| <= 1077).
_LN2_HI = float.fromhex("0x1.62e42feep-1")
_LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")
_INV_LN2 = float.fromhex("0x1.71547652b82fep0")
#: 1/13!, ..., 1/3!: e^r = 1 + r + r^2/2 + r^3 (1/3! + r/4! + ... + r^10/13!);
#: the terms left out are below 2^-60 of e^r for |r| <= ln(2)/2.
_TAYLOR = tuple(1 / math.factorial(n) for n in range(13, 2, -1))
#: Veltkamp's constant: r * (2^27 + 1) splits r into two halves of 26 bits.
_SPLIT = 2.0**27 + 1
#: e^x is 0 in float64 below about -745.13 and inf above about 709.78:
#: x is clipped to this range first, so that k stays small.
_X_RANGE = (-746.0, 710.0)


def portable_exp(x: np.ndarray) -> np.ndarray:
    """e^x in float64, the same bits on every CPU, within 0.56 ulp.

    Cody and Waite's reduction: x = k ln 2 + r with k = rint(x / ln 2) and
    |r| <= ln(2) / 2, r computed with ln 2 in two parts (the first exact
    in k ln 2) and its own rounding error kept; then e^r by its Taylor
    series, its three largest terms (1, r, r^2/2) added without rounding
    error, so that only the last addition rounds (about 0.5 ulp: the
    result is the correctly rounded e^x but for about 1 x in 300); then
    e^x = 2^k e^r by ldexp, exact unless the result is subnormal (below
    2.2e-308, where it is rounded twice: within 0.76 ulp).

    Parameters
    ----------
    x : ndarray of any shape, float64

    Returns
    -------
    ndarray of the shape of x, float64
        e^-inf = 0, e^inf = inf, e^nan = nan; 0 below about -745.13, inf
        above about 709.78, without a warning.
    """
    x = np.asarray(x, dtype=np.float64)
    nan = np.isnan(x)
    x = np.clip(np.where(nan, 0.0, x), *_X_RANGE)
    k = np.rint(x * _INV_LN2)
    r_hi = x - k * _LN2_HI  # exact (Sterbenz: x and k ln 2 are close)
    r, r_err = _two_sum(r_hi, -(k * _LN2_LO))
    upper = r * _SPLIT
    r1 = upper - (upper - r)  # r = r1 + r2, r1 of 26 bits: r1 * r1 is exact
    r2 = r - r1
    poly = _TAYLOR[0]
    for coefficient in _TAYLOR[1:]:
        poly = poly * r + coefficient
    half_r1_squared = r1 * r1 * 0.5
    small = (r1 * r2 + r2 * r2 * 0.5) + r * r * r * poly + r_err * (1.0 + r)
    # 1 + r + r1^2/2 with the rounding error of each addition kept
    # (Fast2Sum: the first term is the larger).
    head = 1.0 + r
    tail = (1.0 - head) + r
    total = head + half_r1_squared
    tail += (head - total) + half_r1_squared
    e_r = total + (tail + small)
    with np.errstate(over="ignore", under="ignore"):
        e_x = np.ldexp(e_r, k.astype(np.int32))
    return np.where(nan, np.nan, e_x)


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a + b rounded, and its rounding error exactly (Knuth's TwoSum)."""
    total = a + b
    b_part = total - a
    return total, (a - (total - b_part)) + (b - b_part)
