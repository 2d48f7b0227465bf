"""The NumPy backend: row blocks give the one-block result; pixels converted
per block give the scaled floats' result bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from logitnet.backends import numpy as numpy_backend
from logitnet.core.loss import block_sums, loss_and_grad
from logitnet.core.pixels import ScaledPixels, scale


def problem(rng, m, n, dtype):
    X = rng.normal(size=(m, n)).astype(dtype)
    y = (rng.random(m) > 0.5).astype(dtype)
    w = rng.normal(size=n).astype(dtype)
    s = rng.uniform(0.5, 2, size=m).astype(dtype)
    return w, float(rng.normal()), X, y, s


def test_small_arrays_are_one_block_large_ones_are_split():
    small = np.zeros((1000, 100))
    assert numpy_backend.rows_per_block(small) == 1000
    large = np.empty((1, 1))  # only its shape and size are read
    large = np.lib.stride_tricks.as_strided(large, (100_000, 12288), (0, 0))
    rows = numpy_backend.rows_per_block(large)
    assert rows == numpy_backend.BLOCK_BYTES // (12288 * 8) == 42
    # Pixels are always converted in blocks, sized by their floats.
    pixels = np.zeros((1000, 12288), np.uint8)
    assert numpy_backend.rows_per_block(pixels, np.float32) == 85


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_blocks_give_the_single_pass_result(monkeypatch, dtype):
    w, b, X, y, s = problem(np.random.default_rng(5), 103, 9, dtype)
    whole = loss_and_grad(w, b, X, y, sample_weight=s, alpha=0.1)
    monkeypatch.setattr(numpy_backend, "SINGLE_PASS_BYTES", 0)
    monkeypatch.setattr(numpy_backend, "BLOCK_BYTES", 10 * X.itemsize * 9)
    assert numpy_backend.rows_per_block(X) == 10
    calls = []

    def counting(X, *rest):
        calls.append(X.shape[0])
        return block_sums(X, *rest)

    blocked = numpy_backend.row_sums(counting, X, (y, s), (w, b, True))
    assert calls == [10] * 10 + [3]
    cost_sum, dw_sum, db_sum, total = blocked
    assert total == pytest.approx(s.sum(dtype=np.float64), rel=1e-12)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    penalty = 0.05 * float(w.astype(np.float64) @ w)
    assert float(cost_sum) / total + penalty == pytest.approx(whole[0], rel=rtol)
    assert float(db_sum) / total == pytest.approx(whole[2], rel=rtol, abs=rtol)
    np.testing.assert_allclose(dw_sum / total + 0.1 * w, whole[1], rtol=rtol, atol=rtol)
    blocked = loss_and_grad(w, b, X, y, sample_weight=s, alpha=0.1)
    assert blocked[0] == pytest.approx(whole[0], rel=rtol)
    np.testing.assert_allclose(blocked[1], whole[1], rtol=rtol, atol=rtol)
    assert blocked[1].dtype == dtype
    assert blocked[2] == pytest.approx(whole[2], rel=rtol, abs=rtol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m", [1, 10, 103])
def test_pixels_converted_per_block_are_the_scaled_floats_bit_for_bit(
    monkeypatch, dtype, m
):
    rng = np.random.default_rng(m)
    pixels = rng.integers(0, 256, size=(m, 9), dtype=np.uint8)
    pixels[0, :2] = 0, 255
    y = (rng.random(m) < 0.5).astype(dtype)
    s = rng.uniform(0.5, 2, size=m).astype(dtype)
    w = rng.normal(size=9)
    monkeypatch.setattr(numpy_backend, "SINGLE_PASS_BYTES", 0)
    monkeypatch.setattr(numpy_backend, "BLOCK_BYTES", 10 * np.dtype(dtype).itemsize * 9)
    assert numpy_backend.rows_per_block(pixels, np.dtype(dtype)) == 10
    shared = (w, 0.3, True)
    floats = numpy_backend.row_sums(block_sums, scale(pixels, dtype), (y, s), shared)
    converted = numpy_backend.row_sums(
        block_sums, pixels, (y, s), shared, convert=scale, dtype=np.dtype(dtype)
    )
    for a, b in zip(converted, floats, strict=True):
        np.testing.assert_array_equal(a, b)
    assert converted[1].dtype == dtype
    # The same through the loss's door, and for the decision values.
    X = ScaledPixels(pixels, dtype)
    for a, b in zip(
        loss_and_grad(w, 0.3, X, y, sample_weight=s),
        loss_and_grad(w, 0.3, scale(pixels, dtype), y, sample_weight=s),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    from logitnet.core.loss import decision_function

    # One product over all rows against one per block: BLAS may round
    # the last bit differently.
    np.testing.assert_allclose(
        decision_function(w, 0.3, X),
        decision_function(w, 0.3, X.to_floats()),
        rtol=1e-6 if dtype == np.float32 else 1e-14,
    )


def test_an_empty_array_gives_zero_sums():
    X = np.empty((0, 4))
    cost, dw, db, total = numpy_backend.row_sums(
        block_sums, X, (np.empty(0), None), (np.ones(4), 0.5, True)
    )
    assert float(cost) == 0 and float(db) == 0 and total == 0
    np.testing.assert_array_equal(dw, np.zeros(4))
