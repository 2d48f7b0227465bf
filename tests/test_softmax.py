"""The softmax neuron's math: probabilities, cross-entropy, gradient.

Against the definition written out by hand, scikit-learn's log loss,
finite differences, and for any finite input no overflow warning or NaN.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from logitnet.core.loss import decision_function, loss_and_grad, probabilities
from logitnet.core.softmax import log_softmax, softmax


def problem(m=60, n=7, k=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n)).astype(dtype)
    y = (np.arange(m) % k).astype(dtype)
    W = rng.normal(scale=0.5, size=(n, k)).astype(dtype)
    b = rng.normal(size=k)
    return X, y, W, b


def test_softmax_by_hand():
    Z = np.array([[0.0, np.log(2.0), np.log(5.0)], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(softmax(Z), [[1 / 8, 2 / 8, 5 / 8], [1 / 3] * 3])
    np.testing.assert_allclose(log_softmax(Z), np.log(softmax(Z)))
    # Two columns (0, z) are the sigmoid's two probabilities.
    z = np.linspace(-30, 30, 13)
    two = softmax(np.stack([np.zeros_like(z), z], axis=1))
    np.testing.assert_allclose(two, probabilities(z), rtol=1e-14, atol=1e-300)


finite = st.floats(-1e308, 1e308, allow_nan=False, allow_infinity=False)


@given(
    arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(3, 6)), elements=finite)
)
def test_softmax_never_overflows(Z):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        P = softmax(Z)
        L = log_softmax(Z)
    # log a_j is -inf only where z_j - max(z) itself is beyond the range.
    assert np.isfinite(P).all() and not np.isnan(L).any()
    assert (P >= 0).all() and (L <= 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)


@given(
    arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(3, 6)), elements=finite)
)
def test_cost_never_overflows_for_finite_z(Z):
    from logitnet.core.softmax import example_sums

    y = (np.arange(Z.shape[0]) % Z.shape[1]).astype(np.float64)
    # As block_sums calls it: a z - max(z) below -1e308 is -inf, whose
    # e^ is 0, right; nothing else may be inf or NaN.
    with np.errstate(over="ignore", invalid="raise", divide="raise"):
        cost, dZ, db, _ = example_sums(Z, y, None)
    # The cost is inf only where the true sum is beyond the float range.
    assert not np.isnan(cost) and cost >= 0
    assert np.isfinite(dZ).all() and np.isfinite(db).all()


def test_cost_is_scikit_learns_log_loss():
    from sklearn.metrics import log_loss

    X, y, W, b = problem()
    cost, _, _ = loss_and_grad(W, b, X, y)
    Z = X @ W + b
    expected = log_loss(y.astype(int), softmax(Z), labels=[0, 1, 2, 3])
    assert cost == pytest.approx(expected, rel=1e-12)
    weights = np.random.default_rng(3).uniform(0.5, 2.0, size=y.size)
    alpha = 0.3
    cost, _, _ = loss_and_grad(W, b, X, y, sample_weight=weights, alpha=alpha)
    weighted = log_loss(y.astype(int), softmax(Z), sample_weight=weights)
    assert cost == pytest.approx(weighted + alpha / 2 * np.sum(W * W), rel=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_is_the_finite_difference(alpha, weighted):
    X, y, W, b = problem(m=40, n=5, k=3, seed=1)
    s = np.random.default_rng(2).uniform(0.1, 3.0, y.size) if weighted else None
    _, dW, db = loss_and_grad(W, b, X, y, sample_weight=s, alpha=alpha)
    assert dW.shape == W.shape and db.shape == b.shape
    h = 1e-6

    def J(W_, b_):
        return loss_and_grad(W_, b_, X, y, sample_weight=s, alpha=alpha)[0]

    for i, j in [(0, 0), (3, 2), (4, 1)]:
        E = np.zeros_like(W)
        E[i, j] = h
        numeric = (J(W + E, b) - J(W - E, b)) / (2 * h)
        assert dW[i, j] == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    for j in range(3):
        e = np.zeros_like(b)
        e[j] = h
        numeric = (J(W, b + e) - J(W, b - e)) / (2 * h)
        assert db[j] == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_row_blocks_and_dask_chunks_add_up_to_the_whole():
    import dask.array as da

    from logitnet.backends import numpy as numpy_backend

    X, y, W, b = problem(m=300, n=9, k=5, seed=4)
    whole = loss_and_grad(W, b, X, y)
    saved = numpy_backend.SINGLE_PASS_BYTES, numpy_backend.BLOCK_BYTES
    numpy_backend.SINGLE_PASS_BYTES, numpy_backend.BLOCK_BYTES = 0, 9 * 8 * 7
    try:
        blocked = loss_and_grad(W, b, X, y)
    finally:
        numpy_backend.SINGLE_PASS_BYTES, numpy_backend.BLOCK_BYTES = saved
    chunked = loss_and_grad(
        W, b, da.from_array(X, chunks=(37, 9)), da.from_array(y, chunks=37)
    )
    for other in (blocked, chunked):
        assert other[0] == pytest.approx(whole[0], rel=1e-13)
        np.testing.assert_allclose(np.asarray(other[1]), whole[1], rtol=1e-12)
        np.testing.assert_allclose(other[2], whole[2], rtol=1e-12, atol=1e-15)


def test_decisions_are_one_answer_per_row():
    import dask.array as da

    X, _, W, b = problem(m=200, n=300, k=6, seed=5)
    Z = decision_function(W, b, X)
    assert Z.shape == (200, 6) and Z.dtype == np.float64
    np.testing.assert_allclose(Z, X @ W + b, rtol=1e-12, atol=1e-12)
    for rows in ([7], [3, 150, 8], list(range(0, 200, 3))):
        assert np.array_equal(decision_function(W, b, X[rows]), Z[rows])
    lazy = decision_function(W, b, da.from_array(X, chunks=(23, 300)))
    assert lazy.shape == (200, 6)
    assert np.array_equal(lazy.compute(), Z)
    P = probabilities(Z)
    assert np.array_equal(probabilities(Z[5:6]), P[5:6])


def test_probabilities_are_the_same_without_avx512():
    """A picture's k probabilities: the same bits with NumPy's AVX-512 code
    switched off (as on a CPU without it), where np.exp's would differ."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np, sys\n"
        "from logitnet.core.softmax import softmax\n"
        "Z = np.random.default_rng(7).normal(scale=30, size=(500, 10))\n"
        "sys.stdout.write(softmax(Z).tobytes().hex())\n"
    )
    outputs = []
    for disabled in ("", "X86_V4 AVX512_ICL AVX512_SPR"):
        env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": disabled}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                              text=True, env=env, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
