"""``logitnet serve`` through a real server process on a free port: the
answers, each bad input and limit, the headers, slow clients, signals."""

from __future__ import annotations

import base64
import io
import json
import re
import select
import signal
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FAILURE, run
from serving import HOST, Server, free_port, multipart

#: Small limits, so that the tests send little: 0.5 MiB a file, 1 MiB a
#: request, 4 files, 1 s for headers, 2 s for a body.
LIMITS = (
    "--max-file-mb=0.5",
    "--max-request-mb=1",
    "--max-files=4",
    "--header-timeout=1",
    "--body-timeout=2",
)


@pytest.fixture(scope="module")
def model_path(data_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "model.npz"
    done = run("train", "--out", str(path), timeout=300)
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture(scope="module")
def photos(cat_data, tmp_path_factory):
    """Picture files of several kinds: two test-set pictures as PNG, one as
    a large JPEG, one with transparency, and a text file."""
    _, _, test_x, _, _ = cat_data
    root = tmp_path_factory.mktemp("photos")
    Image.fromarray(test_x[1]).save(root / "cat.png")
    Image.fromarray(test_x[0]).save(root / "other.png")
    Image.fromarray(test_x[2]).resize((1024, 768)).save(root / "big.jpg", quality=90)
    rgba = np.dstack([test_x[3], np.full((64, 64), 128, np.uint8)])
    Image.fromarray(rgba).save(root / "alpha.png")
    (root / "notes.txt").write_text("not a picture\n")
    return root


@pytest.fixture(scope="module")
def server(model_path):
    server = Server(model_path, *LIMITS)
    yield server
    status, err = server.stop()
    assert status == 0, err
    assert err.strip().endswith("logitnet: stopped (SIGTERM)")
    assert "Traceback" not in err


def predict_json(model_path, *paths):
    done = run("predict", "--model", str(model_path), "--json", *map(str, paths))
    return json.loads(done.stdout)


# --- the answers -------------------------------------------------------------------


def test_probabilities_equal_predict_json(server, model_path, photos):
    names = ["cat.png", "other.png", "big.jpg", "alpha.png"]
    expected = predict_json(model_path, *(photos / n for n in names))
    body, headers = multipart([(n, (photos / n).read_bytes()) for n in names])
    status, answers = server.json("POST", "/api/predict", body, headers)
    assert status == 200
    assert [a["path"] for a in answers] == names
    for answer, want in zip(answers, expected, strict=True):
        assert answer["label"] == want["label"]
        assert answer.keys() == want.keys()
        for name, p in want["probabilities"].items():
            assert answer["probabilities"][name] == pytest.approx(p, abs=1e-12)
    # The same pictures one at a time, as raw bodies.
    for name, want in zip(names, expected, strict=True):
        status, (answer,) = server.json(
            "POST",
            "/api/predict",
            (photos / name).read_bytes(),
            {"Content-Type": "image/png"},
        )
        assert status == 200
        assert answer["path"] == "upload"
        for cls, p in want["probabilities"].items():
            assert answer["probabilities"][cls] == pytest.approx(p, abs=1e-12)


def test_explain_gives_z_probabilities_and_the_explain_picture(
    server, model_path, photos, tmp_path
):
    body, headers = multipart([("cat.png", (photos / "cat.png").read_bytes())])
    status, answer = server.json("POST", "/api/explain", body, headers)
    assert status == 200
    out = tmp_path / "explained.png"
    done = run(
        "explain", "--model", str(model_path), str(photos / "cat.png"),
        "--out", str(out), "--json",
    )  # fmt: skip
    want = json.loads(done.stdout)
    assert answer["label"] == want["label"]
    assert answer["decision_value"] == pytest.approx(want["decision_value"], abs=1e-12)

    png = base64.b64decode(answer["png"])
    drawn = np.asarray(Image.open(io.BytesIO(png)))
    assert drawn.shape == np.asarray(Image.open(out)).shape
    assert np.array_equal(drawn, np.asarray(Image.open(out)))


def test_model_health_schema_and_docs(server):
    status, meta = server.json("GET", "/api/model")
    assert status == 200
    assert meta["classes"] == ["non-cat", "cat"]
    assert meta["image_shape"] == [64, 64, 3]
    assert "w" not in meta and meta["n_weights"] == 64 * 64 * 3
    assert server.json("GET", "/healthz") == (200, {"status": "ok"})
    status, schema = server.json("GET", "/openapi.json")
    assert status == 200
    assert {"/api/predict", "/api/explain", "/api/model", "/healthz"} <= set(
        schema["paths"]
    )
    body = schema["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "image/*"} <= set(body)
    status, _, page = server.request("GET", "/docs")
    assert status == 200 and b"openapi.json" in page


def test_the_model_says_how_good_it_is(server):
    status, meta = server.json("GET", "/api/model")
    assert status == 200
    assert meta["accuracy_in_words"] == (
        "right on 70 % of its 50 test pictures; trained on 209 64×64 pictures"  # noqa: RUF001
    )
    assert meta["metrics"]["test_accuracy"] == 70.0


def resolve(schema, spec):
    """``schema`` with its ``$ref`` followed, one level."""
    ref = schema.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def test_openapi_describes_every_answer(server, photos):
    _, spec = server.json("GET", "/openapi.json")
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            content = operation["responses"]["200"]["content"]
            # JSON, but for /api/graph's picture.
            kinds = ["image/png", "image/svg+xml"] if path == "/api/graph" else []
            assert sorted(content) == (kinds or ["application/json"]), path
            for kind in content:
                assert content[kind]["schema"], (method, path, kind)
            # Every refusal is one shape: {"error": ...}.
            for status, response in operation["responses"].items():
                if status != "200":
                    refusal = resolve(
                        response["content"]["application/json"]["schema"], spec
                    )
                    assert set(refusal["properties"]) == {"error"}, (path, status)
    model = resolve(
        spec["paths"]["/api/model"]["get"]["responses"]["200"]["content"][
            "application/json"
        ]["schema"],
        spec,
    )
    assert {"classes", "image_shape", "accuracy_in_words", "metrics"} <= set(
        model["properties"]
    )
    explain = spec["paths"]["/api/explain"]["post"]
    assert [p["name"] for p in explain["parameters"]] == ["layout"]


def test_real_answers_fit_their_description(server, photos):
    from pydantic import TypeAdapter

    from logitnet.server import schemas

    body, headers = multipart(
        [(n, (photos / n).read_bytes()) for n in ("cat.png", "notes.txt")]
    )
    _, answers = server.json("POST", "/api/predict", body, headers)
    predicted = TypeAdapter(list[schemas.Prediction | schemas.FileError])
    assert [type(a).__name__ for a in predicted.validate_python(answers)] == [
        "Prediction",
        "FileError",
    ]
    # Each entry has exactly its model's fields, no more.
    assert set(answers[0]) == set(schemas.Prediction.model_fields)
    assert set(answers[1]) == set(schemas.FileError.model_fields)
    body, headers = multipart([("cat.png", (photos / "cat.png").read_bytes())])
    _, explained = server.json("POST", "/api/explain", body, headers)
    assert set(explained) == set(schemas.Explanation.model_fields)
    schemas.Explanation.model_validate(explained)
    _, meta = server.json("GET", "/api/model")
    assert set(meta) == set(schemas.ModelInfo.model_fields)
    schemas.ModelInfo.model_validate(meta)
    schemas.Health.model_validate(server.json("GET", "/healthz")[1])


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/nowhere", 404, "nothing here: /nowhere"),
        ("GET", "/docs/nothing.js", 404, "nothing here: /docs/nothing.js"),
        (
            "GET",
            "/api/predict",
            405,
            "GET is not answered at /api/predict; it takes POST",
        ),
        ("DELETE", "/healthz", 405, "DELETE is not answered at /healthz; it takes GET"),
        ("POST", "/api/explain?layout=sideways", 422, "query parameter layout: "),
    ],
)
def test_every_error_is_one_shape(server, photos, method, path, status, message):
    body = (photos / "cat.png").read_bytes() if method == "POST" else None
    got, _, data = server.request(method, path, body)
    assert got == status
    answer = json.loads(data)
    assert list(answer) == ["error"]
    assert answer["error"].startswith(message)


def test_explain_draws_for_a_phone_when_asked(server, photos):
    heights = {}
    for layout in ("wide", "tall"):
        body, headers = multipart([("cat.png", (photos / "cat.png").read_bytes())])
        status, answer = server.json(
            "POST", f"/api/explain?layout={layout}", body, headers
        )
        assert status == 200
        png = Image.open(io.BytesIO(base64.b64decode(answer["png"])))
        heights[layout] = png.height / png.width
    assert heights["wide"] < 1 < 2 < heights["tall"]


def test_the_docs_page_is_swagger_ui_from_this_server(server):
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}"):
        status, headers, page = server.request("GET", "/docs", headers={"Host": host})
        assert status == 200
        # The examples use the address the request came to.
        assert f"curl -F file=@cat.jpg http://{host}/api/explain".encode() in page
        assert b"`" not in page
        csp = headers["content-security-policy"]
        assert "script-src 'self' 'sha256-" in csp
        assert "default-src 'none'" in csp
    # Everything it loads is this server's own.
    loaded = re.findall(rb'(?:src|href)="([^"]*)"', page)
    assert loaded and all(not re.match(rb"[a-z]+://", u) for u in loaded), loaded
    for name, kind in [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
    ]:
        status, headers, data = server.request("GET", f"/docs/{name}")
        assert status == 200 and headers["content-type"].startswith(kind)
        assert len(data) > 50_000


def test_security_headers_on_every_answer(server):
    for method, path in [("GET", "/"), ("GET", "/healthz"), ("GET", "/nowhere")]:
        _, headers, _ = server.request(method, path)
        assert headers["x-content-type-options"] == "nosniff"
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "default-src 'none'" in csp
    _, headers, page = server.request("GET", "/")
    assert "script-src 'sha256-" in headers["content-security-policy"]
    assert b"http://" not in page and b"https://" not in page


def test_binds_127_0_0_1_by_default(server):
    listening = {
        line.split()[1]
        for name in ("/proc/net/tcp", "/proc/net/tcp6")
        for line in Path(name).read_text().splitlines()[1:]
        if line.split()[3] == "0A"  # LISTEN
    }
    port = f"{server.port:04X}"
    assert f"0100007F:{port}" in listening
    assert f"00000000:{port}" not in listening


# --- bad input: each answered, and the server still answers after it --------------


def bomb_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (10_000, 7_000)).save(buffer, format="PNG")  # 70 M pixels
    return buffer.getvalue()


def test_a_text_file_is_an_error_entry_of_its_own(server, model_path, photos):
    body, headers = multipart(
        [
            ("cat.png", (photos / "cat.png").read_bytes()),
            ("notes.txt", (photos / "notes.txt").read_bytes()),
        ]
    )
    status, answers = server.json("POST", "/api/predict", body, headers)
    assert status == 200
    assert answers[0]["label"] == "cat"
    want = predict_json(model_path, photos / "notes.txt")[0]
    assert answers[1] == {"path": "notes.txt", "error": want["error"]}
    status, (answer,) = server.json("POST", "/api/predict", b"hello")
    assert status == 200 and answer["error"] == want["error"]
    assert server.answers()


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "application/json"],
)
def test_a_picture_sent_with_the_wrong_type_is_classified(
    server, model_path, photos, content_type
):
    # curl --data-binary @photo.jpg says its body is a form.
    (want,) = predict_json(model_path, photos / "big.jpg")
    status, (answer,) = server.json(
        "POST",
        "/api/predict",
        (photos / "big.jpg").read_bytes(),
        {"Content-Type": content_type},
    )
    assert status == 200
    assert answer["label"] == want["label"]
    for name, p in want["probabilities"].items():
        assert answer["probabilities"][name] == pytest.approx(p, abs=1e-12)
    # Bytes that are no picture, in a type that says none: still 415.
    status, answer = server.json(
        "POST", "/api/predict", b"a=1&b=2", {"Content-Type": content_type}
    )
    assert status == 415
    assert answer == {
        "error": "expected multipart/form-data or a picture as the body; "
        f"got {content_type}"
    }


def test_a_bomb_is_422_with_the_cli_s_message(server, model_path, tmp_path):
    data = bomb_png()
    assert len(data) < 100_000
    (tmp_path / "bomb.png").write_bytes(data)
    done = run("predict", "--model", str(model_path), str(tmp_path / "bomb.png"))
    assert done.returncode == FAILURE
    cli = done.stderr.strip().removeprefix(f"logitnet: error: {tmp_path}/bomb.png: ")
    assert cli.startswith("refused, 10000x7000 = 70,000,000 pixels")
    for path in ("/api/predict", "/api/explain", "/api/graph"):
        body, headers = multipart([("bomb.png", data)])
        status, answer = server.json("POST", path, body, headers)
        assert status == 422
        assert answer == {"error": f"bomb.png: {cli}"}
        assert server.answers()


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"", {}, 400, "no body"),
        (b"hello", {"Content-Type": "text/plain"}, 415, "expected multipart"),
        (b"--x--\r\n", {"Content-Type": "multipart/form-data"}, 400, "boundary"),
        (
            b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--\r\n",
            {"Content-Type": "multipart/form-data; boundary=x"},
            400,
            "holds no file",
        ),
        (
            b"garbage\r\n",
            {"Content-Type": "multipart/form-data; boundary=x"},
            400,
            "malformed multipart",
        ),
    ],
    ids=["empty", "text-plain", "no-boundary", "no-file", "malformed"],
)
def test_bad_requests_are_4xx(server, body, headers, status, message):
    got, answer = server.json("POST", "/api/predict", body, headers)
    assert got == status
    assert message in answer["error"]
    assert server.answers()


def test_a_part_s_header_is_bounded(server):
    body = (
        b"--x\r\nContent-Disposition: form-data; name=file; filename="
        + b"a" * 20_000
        + b"\r\n\r\n1\r\n--x--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    status, answer = server.json("POST", "/api/predict", body, headers)
    assert status == 400 and "Maximum header size exceeded" in answer["error"]
    assert server.answers()


def test_explain_takes_one_picture(server, photos):
    png = (photos / "cat.png").read_bytes()
    body, headers = multipart([("a.png", png), ("b.png", png)])
    status, answer = server.json("POST", "/api/explain", body, headers)
    assert status == 400 and "one file" in answer["error"]
    status, answer = server.json("POST", "/api/explain", b"hello")
    assert status == 200
    assert answer == {"path": "upload", "error": "not an image file Pillow can read"}
    assert server.answers()


def test_too_many_files_is_413(server, photos):
    png = (photos / "cat.png").read_bytes()
    body, headers = multipart([(f"{i}.png", png) for i in range(5)])
    status, answer = server.json("POST", "/api/predict", body, headers)
    assert status == 413 and "more than 4 files" in answer["error"]
    assert server.answers()


def send_until_answered(port, head: bytes, body: bytes, chunk=16 * 1024):
    """Send ``head``, then ``body`` in chunks while no answer has come;
    (status line, bytes of the body sent)."""
    sock = socket.create_connection((HOST, port), timeout=10)
    try:
        sock.sendall(head)
        sent = 0
        while sent < len(body):
            if select.select([sock], [], [], 0.01)[0]:
                break
            try:
                sent += sock.send(body[sent : sent + chunk])
            except OSError:  # the server closed its side
                break
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
        return answer.split(b"\r\n", 1)[0], sent
    finally:
        sock.close()


def test_a_request_over_its_limit_is_413_before_the_body(server):
    head = (
        b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
        b"Content-Length: 2000000\r\n\r\n"
    )
    status, sent = send_until_answered(server.port, head, b"")
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert sent == 0
    assert server.answers()


@pytest.mark.parametrize("kind", ["raw", "multipart"])
def test_a_file_over_its_limit_is_413_before_the_whole_body(server, kind):
    data = bytes(900_000)  # more than 0.5 MiB, less than the 1 MiB request
    if kind == "raw":
        body, headers = data, {"Content-Type": "image/png"}
    else:
        body, headers = multipart([("big.png", data)])
    head = (
        "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    status, sent = send_until_answered(server.port, head, body)
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert sent < len(body)
    assert server.answers()


# --- slow clients -------------------------------------------------------------------


def test_a_slowloris_connection_is_closed_and_holds_no_worker(server):
    sock = socket.create_connection((HOST, server.port), timeout=10)
    try:
        start = time.monotonic()
        closed = False
        for piece in [
            b"GET /healthz HTTP/1.1\r\n",
            b"Host: x\r\n",
            *[b"X-a: b\r\n"] * 40,
        ]:
            try:
                sock.send(piece)
            except OSError:
                closed = True
                break
            # Other clients are answered meanwhile.
            assert server.answers()
            if select.select([sock], [], [], 0.2)[0]:
                closed = sock.recv(1024) == b""
                break
        assert closed, "the slow connection was not closed"
        assert time.monotonic() - start < 5  # header timeout: 1 s (2 s at most)
    finally:
        sock.close()
    assert server.answers()


def test_a_slow_body_is_408(server):
    head = (
        b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
        b"Content-Length: 1000\r\n\r\n0123456789"
    )
    sock = socket.create_connection((HOST, server.port), timeout=10)
    try:
        start = time.monotonic()
        sock.sendall(head)
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert 1.5 < time.monotonic() - start < 6
    finally:
        sock.close()
    assert server.answers()


# --- the command -----------------------------------------------------------------


def test_a_bad_model_is_one_line_and_status_1_before_binding(tmp_path):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"not a model")
    port = free_port()
    done = run("serve", "--model", str(bad), "--port", str(port), timeout=60)
    assert done.returncode == FAILURE
    assert done.stderr.startswith("logitnet: error: ")
    assert len(done.stderr.splitlines()) == 1
    assert "serving" not in done.stderr and done.stdout == ""


def test_a_port_in_use_is_one_line_and_status_1(server, model_path):
    done = run("serve", "--model", str(model_path), "--port", str(server.port))
    assert done.returncode == FAILURE
    assert done.stderr == (
        f"logitnet: error: cannot listen on 127.0.0.1:{server.port}: "
        "Address already in use\n"
    )
    assert server.answers()


@pytest.mark.parametrize(
    ("signum", "workers"),
    [(signal.SIGTERM, 1), (signal.SIGINT, 1), (signal.SIGTERM, 2)],
    ids=["SIGTERM", "SIGINT", "SIGTERM-2-workers"],
)
def test_a_signal_lets_the_request_in_flight_finish(
    model_path, photos, signum, workers
):
    server = Server(model_path, "--body-timeout=20", f"--workers={workers}")
    png = (photos / "cat.png").read_bytes()
    sock = socket.create_connection((HOST, server.port), timeout=20)
    try:
        sock.sendall(
            b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
            + f"Content-Length: {len(png)}\r\n\r\n".encode()
            + png[:100]
        )
        time.sleep(0.5)
        server.process.send_signal(signum)
        time.sleep(0.5)
        assert server.process.poll() is None  # still draining
        sock.sendall(png[100:])
        answer = b""
        while b'"label"' not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        assert answer.startswith(b"HTTP/1.1 200 OK")
        assert b'"label":"cat"' in answer
    finally:
        sock.close()
    status, err = server.stop(signum=None)
    assert status == 0, err
    # The command names the signal, with one worker or several.
    said = f" ({signal.Signals(signum).name})"
    assert err.strip().splitlines()[-1] == f"logitnet: stopped{said}"
    assert "Traceback" not in err


# --- how good the model is, in words ------------------------------------------------


@pytest.mark.parametrize(
    ("metrics", "training", "said"),
    [
        (
            {"test_accuracy": 70.0, "train_accuracy": 99.04},
            {"n_train": 209, "n_test": 50},
            "right on 70 % of its 50 test pictures; trained on 209 4{x}4 pictures",
        ),
        (
            {"test_accuracy": 64.70588235294117},
            {"n_train": 65, "n_test": 17},
            "right on 64.7 % of its 17 test pictures; trained on 65 4{x}4 pictures",
        ),
        (
            {"test_accuracy": 99.99},
            {"n_train": 40_000, "n_test": 10_000},
            "right on 99.9 % of its 10,000 test pictures; trained on 40,000 4{x}4 pictures",
        ),
        (
            {"train_accuracy": 98.0},
            {"n_train": 100, "n_test": 0},
            "no test accuracy recorded (logitnet evaluate measures one); right on "
            "98 % of the pictures it was trained on, which says little of new "
            "ones; trained on 100 4{x}4 pictures",
        ),
        ({}, {}, "no test accuracy recorded (logitnet evaluate measures one); it takes 4{x}4 pictures"),
    ],
    ids=["course", "images", "never-100", "train-only", "nothing"],
)  # fmt: skip
def test_accuracy_in_words(tiny_model, metrics, training, said):
    from dataclasses import replace

    from logitnet.server.page import accuracy_in_words

    model = replace(tiny_model, metrics=metrics, training=training)
    assert accuracy_in_words(model) == said.format(x="\N{MULTIPLICATION SIGN}")
