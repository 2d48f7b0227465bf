"""``logitnet graph`` through real processes: its numbers against the
course's hand formulas and against ``predict --json``, the PNG and the SVG
it writes, a softmax model's graph, and one-line errors for bad inputs."""

from __future__ import annotations

import io
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from conftest import run


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def course(data_dir, tmp_path_factory):
    """The course's model, and the second test picture as a PNG."""
    root = tmp_path_factory.mktemp("graph")
    model = root / "model.npz"
    _ok(run("train", "--out", str(model), "--quiet", timeout=300))
    with h5py.File(data_dir / "test_catvnoncat.h5") as f:
        Image.fromarray(f["test_set_x"][1]).save(root / "cat.png")
    return {"root": root, "model": str(model), "picture": str(root / "cat.png")}


def graph_json(model, *args):
    return json.loads(_ok(run("graph", "--model", model, "--json", *args)).stdout)


@pytest.mark.parametrize("label", ["cat", "non-cat"])
def test_the_values_follow_the_course_s_formulas(course, tmp_path, label):
    out = tmp_path / "g.png"
    g = graph_json(
        course["model"], course["picture"], "--label", label, "--out", str(out)
    )
    z, a, y = g["z"], g["a"], g["y"]
    assert y == (1 if label == "cat" else 0)
    assert a == pytest.approx(1 / (1 + math.exp(-z)), rel=1e-14)
    loss = -(y * math.log(a) + (1 - y) * math.log(1 - a))
    assert g["loss"] == pytest.approx(loss, rel=1e-12)
    assert g["dL_da"] == pytest.approx(-y / a + (1 - y) / (1 - a), rel=1e-12)
    assert g["dL_dz"] == pytest.approx(a - y, abs=1e-14)
    assert g["dL_db"] == g["dL_dz"]
    # dL/dw = x dz: its range is dz times x's range (dz < 0 swaps the ends).
    ends = sorted(g["dL_dz"] * v for v in g["x_range"])
    assert g["dL_dw_range"] == pytest.approx(ends, rel=1e-12)
    check = g["finite_difference"]
    assert check["step"] == 1e-6
    names = [c["name"] for c in check["checks"]]
    assert names[0] == "dL/db" and names[1].startswith("dL/dw[")
    for c in check["checks"]:
        assert c["numeric"] == pytest.approx(c["analytic"], rel=1e-7)
        assert c["difference"] == pytest.approx(abs(c["numeric"] - c["analytic"]))
    assert g["label"] == label and g["predicted"] == "cat"
    with Image.open(out) as image:
        assert image.format == "PNG"


def test_a_is_predict_s_probability_to_the_last_bit(course, tmp_path):
    g = graph_json(course["model"], course["picture"], "--out", str(tmp_path / "g.png"))
    predicted = json.loads(
        _ok(
            run("predict", "--model", course["model"], "--json", course["picture"])
        ).stdout
    )
    assert g["a"] == predicted[0]["probabilities"]["cat"]  # ==, not approx
    assert g["predicted"] == predicted[0]["label"]
    # Without a label: the forward pass only.
    for name in ("y", "loss", "dL_da", "dL_dz", "dL_db", "finite_difference"):
        assert g[name] is None


def test_a_data_file_s_picture_is_the_same_graph(course, data_dir, tmp_path):
    from_file = graph_json(
        course["model"], "--data", str(data_dir / "test_catvnoncat.h5"),
        "--index", "1", "--out", str(tmp_path / "f.png"),
    )  # fmt: skip
    # The PNG holds the same pixels as the file's row.
    from_png = graph_json(
        course["model"], course["picture"], "--out", str(tmp_path / "p.png")
    )
    assert from_file["z"] == from_png["z"] and from_file["a"] == from_png["a"]
    assert from_file["path"].endswith("[test 1]")


def test_a_picture_of_a_class_folder(course, tmp_path):
    with Image.open(course["picture"]) as picture:
        for name in ("cat", "non-cat"):
            (tmp_path / "mine" / name).mkdir(parents=True)
            picture.save(tmp_path / "mine" / name / "a.png")
    # Numbered as training reads them: cat/a.png is 0, non-cat/a.png is 1.
    g = graph_json(course["model"], "--images", str(tmp_path / "mine"), "--index",
                   "1", "--out", str(tmp_path / "g.png"))  # fmt: skip
    alone = graph_json(
        course["model"], course["picture"], "--out", str(tmp_path / "p.png")
    )
    assert g["path"] == str(tmp_path / "mine" / "non-cat" / "a.png")
    assert g["a"] == alone["a"]
    done = run("graph", "--model", course["model"], "--images", str(tmp_path / "mine"),
               "--index", "2", "--out", str(tmp_path / "h.png"))  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"logitnet: error: {tmp_path / 'mine'}: its pictures are numbered 0 to 1; got 2"
    )


def test_png_and_svg_are_written(course, tmp_path):
    png, svg = tmp_path / "g.png", tmp_path / "g.svg"
    _ok(run("graph", "--model", course["model"], course["picture"], "--label", "cat",
            "--out", str(png)))  # fmt: skip
    done = _ok(run("graph", "--model", course["model"], course["picture"], "--label",
                   "cat", "--out", str(svg)))  # fmt: skip
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 1000 and image.height > 500
        pixels = np.asarray(image.convert("RGB"))
    # Red is drawn (the backward pass), not only black on white.
    red = (pixels[..., 0] > 150) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert red.sum() > 200
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    minus = "\N{MINUS SIGN}"
    for shown in (
        "z = w·x + b",
        f"dL/dz = a {minus} y",
        "Finite differences",
        "y = 1 (cat)",
    ):
        assert shown in text, shown
    # The plain output: the values and the check, one line each.
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{course['picture']}: z = ") and "L = " in lines[0]
    assert lines[1].startswith("Finite differences") and len(lines) == 2


def test_a_softmax_model_s_graph(tmp_path):
    data, model = tmp_path / "three.h5", tmp_path / "three.npz"
    _ok(run("synth", "--out", str(data), "--n-samples", "300", "--test-samples",
            "20", "--n-classes", "3", "--quiet"))  # fmt: skip
    _ok(run("train", "--data", str(data), "--out", str(model), "--quiet"))
    with h5py.File(data) as f:
        classes = [c.decode() for c in f["list_classes"][()]]
        y = int(f["test_set_y"][0])
    g = graph_json(str(model), "--data", str(data), "--index", "0", "--label",
                   classes[y], "--out", str(tmp_path / "g.svg"))  # fmt: skip
    assert g["softmax"] is True and g["classes"] == classes and g["y"] == y
    z, a = np.array(g["z"]), np.array(g["a"])
    assert a == pytest.approx(
        np.exp(z - z.max()) / np.exp(z - z.max()).sum(), rel=1e-12
    )
    assert g["loss"] == pytest.approx(-math.log(a[y]), rel=1e-12)
    onehot = np.eye(3)[y]
    assert g["dL_dz"] == pytest.approx(a - onehot, abs=1e-14)
    assert g["dL_db"] == g["dL_dz"]
    assert g["dL_da"] == pytest.approx([-1 / a[y] if k == y else 0 for k in range(3)])
    for c in g["finite_difference"]["checks"]:
        assert c["numeric"] == pytest.approx(c["analytic"], rel=1e-6)
    predicted = json.loads(
        _ok(run("predict", "--model", str(model), "--data", str(data), "--json")).stdout
    )
    assert g["a"] == list(predicted[0]["probabilities"].values())
    ET.parse(tmp_path / "g.svg")


@pytest.mark.parametrize(
    ("args", "status", "said"),
    [
        (
            ["--label", "dog"],
            2,
            "--label dog is not a class of the model (non-cat, cat)",
        ),
        (["--out", "g.jpg"], 2, "--out g.jpg must end in .png or .svg"),
        (
            ["--data", "nothere.h5"],
            2,
            "give one picture to graph: IMAGE, --data FILE or --images DIR",
        ),
    ],
)
def test_bad_inputs_are_one_line(course, tmp_path, args, status, said):
    done = run(
        "graph", "--model", course["model"], course["picture"], *args, cwd=tmp_path
    )
    assert done.returncode == status
    assert said in done.stderr and done.stderr.count("error") == 1
    assert done.stdout == ""
    # No --out here: the name graph would have drawn in is not said before
    # the error either.
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not list(tmp_path.glob("*.graph.png"))


@pytest.mark.parametrize("label", ["cat", "non-cat"])
def test_a_certain_model_draws_without_a_warning(course, tmp_path, label):
    """The course's weights times 1000: a rounds to 0 or 1, so one class's
    probability is 0 and dL/da infinite for it. JSON says null, the picture
    says inf, and nothing is warned."""
    from logitnet.app.modelfile import load_model, save_model

    model = load_model(course["model"])
    scaled = tmp_path / "certain.npz"
    save_model(
        scaled,
        type(model)(
            w=model.w * 1000,
            b=model.b * 1000,
            classes=model.classes,
            image_shape=model.image_shape,
        ),
    )
    done = _ok(run("graph", "--model", str(scaled), course["picture"], "--label",
                   label, "--json", "--out", str(tmp_path / "g.png")))  # fmt: skip
    assert done.stderr == ""
    g = json.loads(done.stdout)
    assert g["a"] in (0.0, 1.0)
    wrong = (g["a"] == 1.0) != (label == "cat")
    assert (g["dL_da"] is None) == wrong
    assert math.isfinite(g["loss"]) and math.isfinite(g["dL_dz"])


def test_a_missing_picture_is_one_line(course, tmp_path):
    done = run("graph", "--model", course["model"], str(tmp_path / "none.png"),
               "--out", str(tmp_path / "g.png"))  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"logitnet: error: {tmp_path / 'none.png'}: no such file"
    ]
    assert not (tmp_path / "g.png").exists()


# --- serve: /api/graph and the page's panel ------------------------------------


@pytest.fixture(scope="module")
def served(course):
    from serving import Server

    server = Server(course["model"])
    yield server
    status, err = server.stop()
    assert status == 0, err


def test_the_server_draws_the_graph(course, served):
    from serving import multipart

    photo = Path(course["picture"]).read_bytes()
    body, headers = multipart([("cat.png", photo)])
    status, answer_headers, png = served.request(
        "POST", "/api/graph?label=cat&layout=tall", body, headers
    )
    assert status == 200, png[:200]
    assert answer_headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.height > 2 * image.width
    status, answer_headers, svg = served.request("POST", "/api/graph?format=svg", photo, {
        "Content-Type": "image/png"})  # fmt: skip
    assert status == 200 and answer_headers["content-type"].startswith("image/svg+xml")
    ET.fromstring(svg)
    # Refusals: one line in the API's shape.
    status, said = served.json("POST", "/api/graph?label=dog", body, headers)
    assert status == 422 and "label dog is not a class of the model" in said["error"]
    text, text_headers = multipart([("notes.txt", b"not a picture\n")])
    status, said = served.json("POST", "/api/graph", text, text_headers)
    assert status == 422 and "not an image file" in said["error"], said
    two, two_headers = multipart([("a.png", photo), ("b.png", photo)])
    status, said = served.json("POST", "/api/graph", two, two_headers)
    assert status == 400 and "takes one file" in said["error"]
    status, schema = served.json("GET", "/openapi.json")
    graph = schema["paths"]["/api/graph"]["post"]
    assert {"image/png", "image/svg+xml"} <= set(graph["responses"]["200"]["content"])
    assert {p["name"] for p in graph["parameters"]} == {"label", "layout", "format"}


def test_the_page_s_how_it_decided_panel_on_a_phone(browser, course, served):
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.set_window_size(390, 844)
    browser.get(f"http://127.0.0.1:{served.port}/")
    browser.find_element("id", "files").send_keys(course["picture"])
    wait = WebDriverWait(browser, 30)
    panel = wait.until(lambda b: b.find_element("css selector", ".row details.graph"))
    panel.find_element("css selector", "summary").click()
    Select(panel.find_element("css selector", "select")).select_by_value("cat")
    panel.find_element("css selector", "button").click()
    picture = wait.until(
        lambda b: b.find_element("css selector", ".row img.graph:not([hidden])")
    )
    box = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const img = arguments[0];"
        "img.decode().then(() => {"
        "  const r = img.getBoundingClientRect();"
        "  done({left: r.left, right: r.right, width: r.width,"
        "        natural: img.naturalWidth, tall: img.naturalHeight,"
        "        viewport: document.documentElement.clientWidth});"
        "}, () => done(null));",
        picture,
    )
    assert box is not None
    # The tall layout, within the screen, near its drawn size.
    assert box["tall"] > 2 * box["natural"]
    assert box["left"] >= 0 and box["right"] <= box["viewport"]
    assert box["width"] >= 0.85 * box["natural"]
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )
    for css in (".row details.graph select", ".row details.graph button"):
        right = browser.execute_script(
            "return arguments[0].getBoundingClientRect().right;",
            browser.find_element("css selector", css),
        )
        assert right <= box["viewport"], css
    logs = [e for e in browser.get_log("browser") if e["level"] != "INFO"]
    assert logs == []


# --- the report ------------------------------------------------------------------


def test_the_report_draws_the_first_test_picture_s_graph(course, data_dir, tmp_path):
    import base64
    import re

    page = tmp_path / "report.html"
    _ok(run("report", "--model", course["model"], "--out", str(page), timeout=300))
    text = page.read_text()
    assert "<h2>How it decided: the computation graph</h2>" in text
    (uri,) = re.findall(
        r'<img src="data:image/png;base64,([^"]+)" '
        r'alt="the computation graph of the first test picture">',
        text,
    )
    with Image.open(io.BytesIO(base64.b64decode(uri))) as image:
        assert image.width > 1000
        drawn = np.asarray(image.convert("RGB"))
    # The first test picture's graph: its own label, so the backward pass
    # is drawn (red), as graph --label draws it.
    with h5py.File(data_dir / "test_catvnoncat.h5") as f:
        first = f["test_set_x"][0]
        label = ["non-cat", "cat"][int(f["test_set_y"][0])]
    Image.fromarray(first).save(tmp_path / "first.png")
    alone = tmp_path / "alone.png"
    _ok(run("graph", "--model", course["model"], str(tmp_path / "first.png"),
            "--label", label, "--out", str(alone)))  # fmt: skip
    with Image.open(alone) as image:
        assert np.array_equal(np.asarray(image.convert("RGB")), drawn)
