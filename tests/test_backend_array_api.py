"""The array-API core: array-api-strict, PyTorch (CPU) and Dask against NumPy."""

from __future__ import annotations

import array_api_strict as xps
import dask.array as da
import numpy as np
import pytest
import torch
from array_api_compat import array_namespace

from logitnet import LogisticRegression
from logitnet.backends import to_numpy
from logitnet.core.loss import loss_and_grad, sigmoid, softplus

NAMESPACES = {
    "array_api_strict": xps.asarray,
    "torch": torch.asarray,
    "dask": lambda a: da.from_array(a, chunks=(37, 3) if a.ndim == 2 else 37),
}


def problem(dtype, m=150, n=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n)).astype(dtype)
    y = (rng.random(m) > 0.5).astype(dtype)
    w = rng.normal(size=n).astype(dtype)
    s = rng.uniform(0.2, 2.0, size=m).astype(dtype)
    return w, 0.3, X, y, s


@pytest.mark.parametrize("name", NAMESPACES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_loss_and_grad_equals_numpy(name, dtype, weighted, alpha):
    w, b, X, y, s = problem(dtype)
    s = s if weighted else None
    ref = loss_and_grad(w, b, X, y, sample_weight=s, alpha=alpha)
    to = NAMESPACES[name]
    cost, dw, db = loss_and_grad(
        w, b, to(X), to(y), sample_weight=None if s is None else to(s), alpha=alpha
    )
    if name != "dask":  # Dask's result is computed: NumPy
        assert array_namespace(dw) is array_namespace(to(X))
    dw = to_numpy(dw)
    assert dw.dtype == dtype
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    assert cost == pytest.approx(ref[0], rel=rtol)
    np.testing.assert_allclose(dw, ref[1], rtol=rtol, atol=rtol)
    assert db == pytest.approx(ref[2], rel=rtol, abs=rtol)


@pytest.mark.parametrize("name", NAMESPACES)
def test_gradient_matches_central_differences(name):
    w, b, X, y, s = problem(np.float64, m=40, n=4, seed=3)
    to = NAMESPACES[name]
    Xa, ya, sa = to(X), to(y), to(s)

    def cost(theta):
        return loss_and_grad(theta[:-1], theta[-1], Xa, ya, sample_weight=sa)[0]

    _, dw, db = loss_and_grad(w, b, Xa, ya, sample_weight=sa)
    theta, eps = np.append(w, b), 1e-6
    numeric = [
        (cost(theta + eps * e) - cost(theta - eps * e)) / (2 * eps)
        for e in np.eye(theta.size)
    ]
    np.testing.assert_allclose(
        np.append(to_numpy(dw), db), numeric, rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize("name", ["array_api_strict", "torch"])
def test_sigmoid_and_softplus_at_the_extremes(name):
    z = np.array([-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4])
    zx = NAMESPACES[name](z)
    a, sp = to_numpy(sigmoid(zx)), to_numpy(softplus(zx))
    assert a[0] == 0.0 and a[-1] == 1.0 and a[3] == 0.5
    np.testing.assert_allclose(a, sigmoid(z), rtol=1e-15, atol=0)
    np.testing.assert_allclose(sp, np.logaddexp(0, z), rtol=1e-15, atol=0)
    assert sp[-1] == 1e4 and sp[0] == 0.0


def test_a_strict_array_on_another_device_stays_there():
    device = xps.Device("device1")
    w, b, X, y, _ = problem(np.float64)
    _, dw, _ = loss_and_grad(
        w, b, xps.asarray(X, device=device), xps.asarray(y, device=device)
    )
    assert dw.device == device
    ref = loss_and_grad(w, b, X, y)
    np.testing.assert_allclose(to_numpy(dw), ref[1], rtol=1e-12)


@pytest.mark.parametrize("name", ["array_api_strict", "torch"])
@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_estimator_fit_in_another_namespace_equals_numpy(name, solver):
    _, _, X, _, _ = problem(np.float64, m=300, n=5, seed=7)
    y = (X @ np.arange(5.0) + np.random.default_rng(7).logistic(size=300) > 0) * 1
    params = {"solver": solver, "learning_rate": 0.5, "alpha": 0.01, "tol": 1e-6}
    if solver == "gd":
        params["max_iter"] = 5000
    ref = LogisticRegression(**params).fit(X, y)
    to = NAMESPACES[name]
    clf = LogisticRegression(**params).fit(to(X), to(y))
    xp = array_namespace(to(X))
    for attr in ("coef_", "intercept_", "classes_", "n_iter_"):
        assert array_namespace(getattr(clf, attr)) is xp
    np.testing.assert_allclose(to_numpy(clf.coef_), ref.coef_, rtol=1e-9, atol=1e-12)
    proba = clf.predict_proba(to(X))
    assert array_namespace(proba) is xp
    np.testing.assert_allclose(to_numpy(proba), ref.predict_proba(X), rtol=1e-9)
    np.testing.assert_array_equal(to_numpy(clf.predict(to(X))), ref.predict(X))
    log_proba = to_numpy(clf.predict_log_proba(to(X)))
    np.testing.assert_allclose(log_proba, ref.predict_log_proba(X), rtol=1e-9)
    # Used on NumPy, the weights come to the data.
    np.testing.assert_array_equal(clf.predict(X), ref.predict(X))


def test_estimator_refuses_nan_in_a_tensor():
    X = torch.ones((4, 2), dtype=torch.float64)
    X[1, 1] = torch.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        LogisticRegression().fit(X, torch.tensor([0, 1, 0, 1]))


def test_float32_tensor_is_computed_in_float32():
    _, _, X, y, _ = problem(np.float32, m=200, n=3, seed=2)
    clf = LogisticRegression(dtype=np.float32).fit(torch.asarray(X), y.astype(int))
    assert clf.coef_.dtype == torch.float32
    # Each row's z is summed in float64, the device has it.
    assert clf.decision_function(torch.asarray(X)).dtype == torch.float64
