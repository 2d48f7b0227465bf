"""The exponential of a picture's probability, written from + - * /, rint and
ldexp: held to the C library's exp on a dense grid and at the limits, and to
itself, bit for bit, with NumPy's CPU-specific code switched off."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from decimal import Decimal, getcontext

import numpy as np
import pytest
from scipy.special import expit

from logitnet.core import portable
from logitnet.core.loss import probabilities, sigmoid
from logitnet.core.portable import portable_exp

#: Every NumPy code path above the x86-64 baseline, switched off: as on the
#: oldest CPU NumPy runs on.
NO_SIMD = {"NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"}


def ulps_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many float64 values lie between a and b (both >= 0, finite):
    their bit patterns, read as integers, are in the same order."""
    return np.abs(a.view(np.int64) - b.view(np.int64))


def test_ln2_in_two_parts():
    getcontext().prec = 50
    ln2 = Decimal(2).ln()
    error = abs(Decimal(portable._LN2_HI) + Decimal(portable._LN2_LO) - ln2)
    assert error < Decimal(2) ** -85
    # k * _LN2_HI is exact for |k| < 2**21: 32 significant bits at most.
    mantissa, _ = math.frexp(portable._LN2_HI)
    assert (mantissa * 2**32).is_integer()


def test_a_dense_grid_against_math_exp():
    # Normal results: from e^-708.39 (2.2e-308) to e^709.78 (1.8e308),
    # and a finer grid where most probabilities are computed.
    x = np.concatenate(
        [np.linspace(-708.39, 709.78, 1_000_003), np.linspace(-40, 40, 1_000_001)]
    )
    ours = portable_exp(x)
    reference = np.array([math.exp(v) for v in x.tolist()])
    apart = ulps_apart(ours, reference)
    assert apart.max() <= 1
    # Both are the correctly rounded e^x nearly always: where they differ,
    # e^x is within a hair of halfway between two floats.
    assert np.count_nonzero(apart) / x.size < 0.01


def test_subnormal_results_within_one_ulp():
    x = np.linspace(-745.13, -708.4, 200_001)
    reference = np.array([math.exp(v) for v in x.tolist()])
    assert ulps_apart(portable_exp(x), reference).max() <= 1


@pytest.mark.parametrize(
    "x",
    [0.0, -0.0, 5e-324, -5e-324, 1e-300, 1.0, -1.0, 0.5 * math.log(2),
     709.782712893384, -745.1332191019411, -745.1332191019412, -708.3964185322641,
     709.0, -709.0, -745.0, -740.0],
)  # fmt: skip
def test_limits_and_edges_as_math_exp(x):
    (value,) = portable_exp(np.array([x]))
    assert ulps_apart(np.array([value]), np.array([math.exp(x)]))[0] <= 1


def test_beyond_the_float_range_without_a_warning():
    x = np.array([np.inf, -np.inf, np.nan, 710.0, 745.0, 1e308, -746.0, -1e308,
                  709.7827128933841])  # fmt: skip
    # pytest turns any warning (overflow, invalid cast) into an error.
    assert portable_exp(x).tolist()[:2] == [np.inf, 0.0]
    assert math.isnan(portable_exp(x)[2])
    assert portable_exp(x)[3:].tolist() == [np.inf, np.inf, np.inf, 0.0, 0.0, np.inf]


def test_any_shape():
    assert portable_exp(np.float64(0.0)).shape == ()
    assert portable_exp(np.empty((0, 3))).shape == (0, 3)
    grid = np.linspace(-3, 3, 12).reshape(3, 4)
    assert np.array_equal(portable_exp(grid), portable_exp(grid.ravel()).reshape(3, 4))


def test_sigmoid_is_expits_formula_with_this_exp():
    z = np.random.default_rng(0).normal(scale=8, size=200_000)
    ours, scipys = sigmoid(z), expit(z)
    # Where the two exponentials differ by an ulp, 1 / (1 + e) may round
    # the other way too.
    assert ulps_apart(ours, scipys).max() <= 2
    assert np.count_nonzero(ours != scipys) / z.size < 0.01
    assert sigmoid(np.array([-np.inf, np.inf, 0.0, -800.0, 800.0])).tolist() == [
        0.0, 1.0, 0.5, 0.0, 1.0
    ]  # fmt: skip
    assert math.isnan(sigmoid(np.array([np.nan]))[0])
    assert sigmoid(z.astype(np.float32)).dtype == np.float32
    both = probabilities(z[:100])
    assert np.array_equal(both, np.stack([sigmoid(-z[:100]), ours[:100]], axis=1))


#: Hashes of e^x, sigma(z) and np.exp on one grid, printed by a fresh process.
HASHES = """
import hashlib, numpy as np
from logitnet.core.loss import portable_exp, probabilities
x = np.concatenate([np.linspace(-750, 750, 300_001), np.linspace(-1, 1, 100_001),
                    np.array([np.inf, -np.inf, np.nan, 0.0, 5e-324])])
for value in (portable_exp(x), probabilities(x), np.exp(np.clip(x, -700, 700))):
    print(hashlib.sha256(value.tobytes()).hexdigest())
"""


def _hashes(env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", HASHES],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_same_bits_without_numpys_cpu_specific_code():
    usual, plain = _hashes({}), _hashes(NO_SIMD)
    assert plain[:2] == usual[:2]
    from numpy._core._multiarray_umath import __cpu_features__

    if __cpu_features__.get("AVX512F"):
        # The switch works: NumPy's own exp gives other bits without it.
        assert plain[2] != usual[2]
