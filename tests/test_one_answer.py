"""One picture, one answer: a picture's z and probabilities are a function of
the picture and the model only, bit for bit (``==``, never closeness).

Alone or in any batch, in any order, in any chunking of a file, given as a
path, bytes, a Pillow image or an array, through every door (predict,
predict --data, explain, graph, evaluate, the report's numbers, serve's API, the
estimator), and with NumPy's AVX-512 code paths switched off (as on a CPU
without them). BLAS splits ``X @ w`` by the number of rows in the call and
by the CPU, so every one of these would fail with it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import run
from logitnet.app.modelfile import SavedModel, load_model, save_model
from logitnet.app.prediction import classify
from logitnet.core.loss import decision_function, row_dot
from logitnet.core.pixels import ScaledPixels, flatten, scale
from logitnet.data.layout import write_course_file

#: The course's pictures: sums of 12,288 terms, where BLAS's order shows.
SHAPE = (64, 64, 3)
N = int(np.prod(SHAPE))
M = 300

RNG = np.random.default_rng(18)
PIXELS = RNG.integers(0, 256, (M, *SHAPE), dtype=np.uint8)
W = RNG.normal(scale=0.05, size=N)
B = -0.37
X = scale(flatten(PIXELS)).T  # (M, N) float64, as every door makes it


def _alone() -> np.ndarray:
    return np.array([decision_function(W, B, X[i : i + 1])[0] for i in range(M)])


#: Each picture's z computed alone: the answer every batch must give.
ALONE = _alone()


def test_row_dot_is_the_dot_product():
    # Exact where every partial sum is exact: small integers.
    A = np.arange(12, dtype=np.float64).reshape(3, 4)
    assert row_dot(A, np.array([1.0, -2.0, 3.0, 0.5])).tolist() == [5.5, 15.5, 25.5]
    assert row_dot(np.empty((2, 0)), np.empty(0)).tolist() == [0.0, 0.0]
    np.testing.assert_allclose(ALONE, X @ W + B, rtol=0, atol=1e-12)
    # float32 rows are summed in float64, each product rounded once.
    X32 = X[:5].astype(np.float32)
    z32 = row_dot(X32, W.astype(np.float32))
    assert z32.dtype == np.float64
    np.testing.assert_allclose(
        z32, X32.astype(np.float64) @ W.astype(np.float32), rtol=1e-13
    )


@settings(max_examples=40)
@given(
    size=st.sampled_from([1, 2, 7, 64, 257, M]),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from(["float64", "pixels", "dask pixels"]),
    chunk=st.integers(1, 97),
)
def test_any_batch_order_and_chunking_gives_each_row_its_answer(
    size, seed, dtype, chunk
):
    rows = np.random.default_rng(seed).permutation(M)[:size]
    if dtype == "float64":
        z = decision_function(W, B, X[rows])
    else:
        pixels = PIXELS[rows].reshape(size, N)
        if dtype == "dask pixels":
            import dask.array as da

            pixels = da.from_array(pixels, chunks=(chunk, N))
        # A float32 model's file read lazily: decided on float64 pixels.
        z = np.asarray(decision_function(W, B, ScaledPixels(pixels, np.float32)))
    assert z.dtype == np.float64
    assert np.array_equal(z, ALONE[rows])


def test_the_estimator_gives_each_row_its_answer():
    from logitnet import LogisticRegression

    y = (X[:, :100].mean(axis=1) > X[:, :100].mean()).astype(int)
    clf = LogisticRegression(max_iter=50, alpha=1.0, solver="lbfgs").fit(
        X[:200], y[:200]
    )
    whole = clf.predict_proba(X)
    order = np.random.default_rng(1).permutation(M)
    assert np.array_equal(clf.predict_proba(X[order]), whole[order])
    for i in (0, 57, 299):
        assert np.array_equal(clf.predict_proba(X[i : i + 1])[0], whole[i])
    assert np.array_equal(clf.decision_function(X[7:8])[0], clf.decision_function(X)[7])


def test_the_torch_backend_gives_each_row_its_answer():
    import torch

    Xt = torch.asarray(X)
    whole = decision_function(W, B, Xt)
    assert whole.dtype == torch.float64
    for rows in ([3], [5, 1], list(range(0, M, 7))):
        assert torch.equal(decision_function(W, B, Xt[rows]), whole[rows])
    np.testing.assert_allclose(whole.numpy(), ALONE, rtol=0, atol=1e-12)


# --- every door, through real processes ------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A model of 64 x 64 RGB pictures, 9 of the pictures as PNG files, and a
    data file holding the same 9 as its test split."""
    root = tmp_path_factory.mktemp("one_answer")
    model = SavedModel(w=W, b=B, classes=["other", "cat"], image_shape=SHAPE)
    model_path = save_model(root / "model.npz", model)
    photos = []
    for i in range(9):
        path = root / f"p{i}.png"
        Image.fromarray(PIXELS[i]).save(path)
        photos.append(path)
    data = root / "pictures.h5"
    labels = np.arange(9) % 2
    write_course_file(data, PIXELS[9:21], np.arange(12) % 2, ["other", "cat"],
                      PIXELS[:9], labels)  # fmt: skip
    return {"root": root, "model": model_path, "photos": photos, "data": data}


def _expected(i: int) -> dict[str, float]:
    """Picture i's probabilities from its z computed alone."""
    from logitnet.core.loss import probabilities

    other, cat = probabilities(ALONE[i : i + 1])[0]
    return {"other": float(other), "cat": float(cat)}


def _predict_json(world, *paths, env=None):
    result = run(
        "predict", "--model", str(world["model"]), *map(str, paths), "--json", env=env
    )
    assert result.returncode == 0, result.stderr
    return {Path(e["path"]).name: e["probabilities"] for e in json.loads(result.stdout)}


def test_predict_alone_in_a_batch_and_reversed(world):
    photos = world["photos"]
    together = _predict_json(world, *photos[:7])
    backwards = _predict_json(world, *reversed(photos[:7]))
    for i, photo in enumerate(photos[:7]):
        alone = _predict_json(world, photo)
        assert alone[photo.name] == together[photo.name] == backwards[photo.name]
        assert alone[photo.name] == _expected(i)


def test_predict_without_avx512_gives_the_same_answers(world):
    """NumPy's AVX-512 code paths switched off, as on a CPU without them."""
    photos = world["photos"]
    usual = _predict_json(world, *photos)
    plain = _predict_json(
        world, *photos, env={"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}
    )
    assert plain == usual


def test_data_file_explain_and_evaluate_agree_with_the_photos(world):
    model, data = str(world["model"]), str(world["data"])
    result = run("predict", "--model", model, "--data", data, "--json")
    assert result.returncode == 0, result.stderr
    by_file = [e["probabilities"] for e in json.loads(result.stdout)]
    assert by_file == [_expected(i) for i in range(9)]

    out = world["root"] / "why.png"
    explained = run("explain", "--model", model, "--data", data, "--index", "4",
                    "--out", str(out), "--json")  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    assert json.loads(explained.stdout)["probabilities"] == _expected(4)
    explained = run("explain", "--model", model, str(world["photos"][4]),
                    "--out", str(out), "--json")  # fmt: skip
    assert json.loads(explained.stdout)["probabilities"] == _expected(4)
    # graph's a = sigma(z) is the same number, from the file or the photo.
    for picture in (["--data", data, "--index", "4"], [str(world["photos"][4])]):
        drawn = run("graph", "--model", model, *picture, "--out",
                    str(world["root"] / "graph.png"), "--json")  # fmt: skip
        assert drawn.returncode == 0, drawn.stderr
        assert json.loads(drawn.stdout)["a"] == _expected(4)["cat"]


def test_file_chunking_evaluation_and_the_python_inputs(world):
    from logitnet.app.evaluation import evaluate, evaluate_file
    from logitnet.data.images import read_image
    from logitnet.data.reader import open_images

    model = load_model(world["model"])
    expected = np.array([_expected(i)["cat"] for i in range(9)])
    for chunk_rows in (1, 2, 4, 9):
        X_file, _ = open_images(
            world["data"], "test", chunk_rows=chunk_rows, dtype=np.float32
        )
        assert np.array_equal(classify(model, X_file).probabilities[:, 1], expected)
    assert np.array_equal(
        evaluate(model, PIXELS[:9], np.arange(9) % 2).probability, expected
    )
    result, _ = evaluate_file(model, world["data"], "test")
    assert np.array_equal(result.probability, expected)

    photo = world["photos"][3]
    with Image.open(photo) as image:
        by_image = model.predict_proba(image)[0, 1]
    by_bytes = classify(model, read_image(photo.read_bytes())[None]).probabilities[0, 1]
    by_array = model.predict_proba(PIXELS[3])[0, 1]
    assert by_image == by_bytes == by_array == expected[3]


def test_serve_answers_each_picture_alone_or_together(world):
    from serving import Server, multipart

    photos = world["photos"]
    files = [(p.name, p.read_bytes()) for p in photos[:3]]
    server = Server(world["model"])
    try:
        status, together = server.json("POST", "/api/predict", *multipart(files))
        assert status == 200, together
        status, alone = server.json("POST", "/api/predict", *multipart(files[1:2]))
        assert status == 200, alone
    finally:
        server.stop()
    assert together[1]["probabilities"] == alone[0]["probabilities"]
    assert [r["probabilities"] for r in together] == [_expected(i) for i in range(3)]


def test_the_course_predict_agrees(world):
    from logitnet.course.neuron import predict

    predicted = predict(W.reshape(-1, 1), B, X[:50].T)
    from logitnet.core.loss import sigmoid

    assert predicted.tolist() == [[float(a > 0.5) for a in sigmoid(ALONE[:50])]]


def test_a_fresh_process_gets_the_same_z():
    """The same numbers in another process (another allocation, another
    thread count): nothing depends on memory alignment or threads."""
    code = (
        "import numpy as np, sys\n"
        "from test_one_answer import ALONE, W, B, X\n"
        "from logitnet.core.loss import decision_function\n"
        "z = decision_function(W, B, X[::-1].copy())[::-1]\n"
        "sys.stdout.write(z.tobytes().hex())\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                          os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, env=env, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert bytes.fromhex(result.stdout) == ALONE.tobytes()


def test_read_image_of_bytes_is_a_decoded_png():
    buffer = io.BytesIO()
    Image.fromarray(PIXELS[0]).save(buffer, format="PNG")
    from logitnet.data.images import read_image

    assert np.array_equal(read_image(buffer.getvalue()), PIXELS[0])
