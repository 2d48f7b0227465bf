"""``logitnet serve``'s pages in headless Chromium: pick photos, see their
labels, probabilities and explanations in the order given, with how far to
trust them; pick a text file, see an error row; a phone's width; no console
errors, nothing fetched from outside 127.0.0.1, usable by keyboard. The
API page (``/docs``): Swagger UI from this server, and its "Try it out"
classifies a picture.

With LOGITNET_SCREENSHOTS=DIR, the pages are also saved there as PNG (at
1280 and 390 px), for a person to look at.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from conftest import run
from serving import Server

#: Every resource the page loaded, with where it came from.
RESOURCES = "return performance.getEntriesByType('resource').map(e => e.name);"

#: The course model's recorded test accuracy, as the page says it.
ACCURACY = "right on 70 % of its 50 test pictures; trained on 209 64×64 pictures"  # noqa: RUF001


@pytest.fixture(scope="module")
def served(data_dir, cat_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    model = root / "model.npz"
    done = run("train", "--out", str(model), timeout=300)
    assert done.returncode == 0, done.stderr
    _, _, test_x, _, _ = cat_data
    Image.fromarray(test_x[1]).resize((256, 256)).save(root / "cat.jpg")
    Image.fromarray(test_x[0]).save(root / "other.png")
    Image.fromarray(test_x[2]).save(root / "third.png")
    (root / "notes.txt").write_text("not a picture\n")
    server = Server(model)
    yield server, root
    status, err = server.stop()
    assert status == 0, err


def wait_for(browser, css: str, timeout: float = 30, count: int = 1):
    """The elements matching ``css``, once there are at least ``count``."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(
        lambda b: (found := b.find_elements("css selector", css))[count - 1 :] and found
    )


def screenshot(browser, name: str, width: int, height: int = 2400) -> None:
    """The page at ``width`` px, tall enough to show it whole, saved to
    $LOGITNET_SCREENSHOTS/name.png when that is set."""
    folder = os.environ.get("LOGITNET_SCREENSHOTS")
    if folder:
        browser.set_window_size(width, height)
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.png").write_bytes(browser.get_screenshot_as_png())


def no_console_messages(browser) -> list:
    return [e for e in browser.get_log("browser") if e["level"] != "INFO"]


def names_in_order(browser) -> list[str]:
    return [e.text for e in browser.find_elements("css selector", ".row .name")]


def test_pick_a_photo_then_a_text_file(browser, served, tmp_path):
    server, root = served
    url = f"http://127.0.0.1:{server.port}/"
    browser.get(url)
    assert "cat or non-cat" in browser.title
    card = browser.find_element("css selector", "section.card").text
    assert "The model" in card and "Learning curve" in card
    # Keyboard: the first Tab reaches the file picker.
    from selenium.webdriver.common.keys import Keys

    browser.find_element("tag name", "body").send_keys(Keys.TAB)
    assert browser.execute_script("return document.activeElement.id") == "files"

    picker = browser.find_element("id", "files")
    picker.send_keys(str(root / "cat.jpg"))
    (label,) = wait_for(browser, ".row .label")
    assert label.text == "cat"
    # The probabilities as the command line prints them, the likelier first.
    _, answer = server.json("POST", "/api/predict", (root / "cat.jpg").read_bytes(), {})
    p = answer[0]["probabilities"]
    shares = browser.find_element("css selector", ".row .shares").text
    assert shares == f"cat {100 * p['cat']:.1f} %, non-cat {100 * p['non-cat']:.1f} %"
    (explanation,) = wait_for(browser, ".row img.explanation")
    size = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "arguments[0].decode().then(() => done(arguments[0].naturalWidth),"
        " () => done(0));",
        explanation,
    )
    assert size > 400  # the wide layout, at 1280 px
    meter = browser.find_element("css selector", ".row meter")
    assert float(meter.get_attribute("value")) == pytest.approx(p["cat"])

    picker.send_keys(str(root / "notes.txt"))
    (error,) = wait_for(browser, ".row.error .message")
    assert "not an image file" in error.text
    # The text file was given last: its row is last.
    assert names_in_order(browser) == ["cat.jpg", "notes.txt"]
    screenshot(browser, "page-1280", 1280)

    assert no_console_messages(browser) == []
    resources = browser.execute_script(RESOURCES)
    assert resources
    assert all(name.startswith(url) for name in resources), resources


def test_results_in_the_order_given(browser, served):
    server, root = served
    browser.get(f"http://127.0.0.1:{server.port}/")
    picker = browser.find_element("id", "files")
    # Three at once, then one more.
    picker.send_keys(
        "\n".join(str(root / n) for n in ("cat.jpg", "other.png", "notes.txt"))
    )
    wait_for(browser, ".row:not(.pending)", count=3)
    picker.send_keys(str(root / "third.png"))
    wait_for(browser, ".row:not(.pending)", count=4)
    assert names_in_order(browser) == ["cat.jpg", "other.png", "notes.txt", "third.png"]


def test_how_far_to_trust_the_answers_is_said_next_to_them(browser, served):
    server, root = served
    browser.get(f"http://127.0.0.1:{server.port}/")
    trust = browser.find_element("id", "trust")
    assert ACCURACY in trust.text
    browser.find_element("id", "files").send_keys(str(root / "cat.jpg"))
    (row,) = wait_for(browser, ".row:not(.pending)")
    # Right above the first answer, on the same screen.
    gap = browser.execute_script(
        "return arguments[1].getBoundingClientRect().top"
        " - arguments[0].getBoundingClientRect().bottom;",
        trust,
        row,
    )
    assert 0 <= gap < 40


@pytest.mark.parametrize(
    "p",
    [0.78104, 0.21896, 0.99996, 5.581e-05, 0.5, 0.0025, 0.0075, 0.0125, 0.9975,
     0.99949, 0.00125, 1.0, 0.0, 1 / 3, 0.123456789],
)  # fmt: skip
def test_percentages_read_as_the_command_line_prints_them(browser, served, p):
    server, _ = served
    browser.get(f"http://127.0.0.1:{server.port}/")
    # Python's rule, the command line's: one decimal, a space before %. Ties
    # (100p = 0.25, 1.25, 99.75) are rounded to even, as Python does.
    assert browser.execute_script("return percent(arguments[0]);", p) == (
        f"{100 * p:.1f} %"
    )


def test_the_probabilities_line_puts_the_likelier_first(browser, served):
    server, _ = served
    browser.get(f"http://127.0.0.1:{server.port}/")
    for probabilities, want in [
        ({"non-cat": 0.21896, "cat": 0.78104}, "cat 78.1 %, non-cat 21.9 %"),
        ({"non-cat": 0.99996, "cat": 4e-05}, "non-cat 100.0 %, cat 0.0 %"),
        ({"non-cat": 0.5, "cat": 0.5}, "non-cat 50.0 %, cat 50.0 %"),
    ]:
        # As JSON, as the server sends it: the classes in the model's order.
        got = browser.execute_script(
            "return shares(JSON.parse(arguments[0])).textContent;",
            json.dumps(probabilities),
        )
        assert got == want


def test_a_percentage_never_breaks_over_two_lines(browser, served):
    server, _ = served
    browser.get(f"http://127.0.0.1:{server.port}/")
    # In a box too narrow for "100.0 %": each percentage stays one line.
    lines = browser.execute_script(
        "const box = document.createElement('div');"
        "box.style.width = '3em';"
        "document.body.append(box);"
        "const line = shares({'non-cat': 0.99996, 'cat': 4e-05});"
        "box.append(line);"
        "return Array.from(line.querySelectorAll('.percent'),"
        " (e) => [e.textContent, e.getClientRects().length]);"
    )
    assert lines == [["100.0 %", 1], ["0.0 %", 1]]


def test_a_phone_s_width(browser, served):
    server, root = served
    browser.set_window_size(390, 844)
    browser.get(f"http://127.0.0.1:{server.port}/")
    assert browser.execute_script("return window.innerWidth") <= 390
    browser.find_element("id", "files").send_keys(str(root / "cat.jpg"))
    (picture,) = wait_for(browser, ".row img.explanation")
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
    # Within the screen, and the panels one above the other ...
    assert box["left"] >= 0 and box["right"] <= box["viewport"]
    assert box["tall"] > 2 * box["natural"]
    # ... shown at nine tenths of their drawn size or more, so that the
    # colour bar's labels and the text read at the size they were drawn.
    assert box["width"] >= 0.9 * box["natural"]
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )
    # The row's text stays within the screen too.
    for css in (".row .shares", ".row .label", "#trust"):
        right = browser.execute_script(
            "return arguments[0].getBoundingClientRect().right;",
            browser.find_element("css selector", css),
        )
        assert right <= box["viewport"], css
    screenshot(browser, "page-390", 390, 3000)
    assert no_console_messages(browser) == []


def test_the_docs_page_tries_a_picture(browser, served):
    server, root = served
    url = f"http://127.0.0.1:{server.port}/"
    browser.get(url + "docs")
    operations = wait_for(browser, ".opblock", count=4)
    shown = {
        e.find_element("css selector", ".opblock-summary-path").text for e in operations
    }
    assert {"/api/predict", "/api/explain", "/api/model", "/healthz"} <= shown
    # The examples at the top are for this server, as the browser reached it.
    intro = browser.find_element("css selector", "header.intro").text
    assert f"curl -F file=@cat.jpg -F file=@dog.png {url}api/predict" in intro
    screenshot(browser, "docs-1280", 1280, 1400)

    predict = browser.find_element("id", "operations-pictures-predict_api_predict_post")
    predict.find_element("css selector", ".opblock-summary-control").click()
    # "Try it out" is on from the start: a file input for the upload.
    (picker,) = wait_for(browser, ".opblock.is-open input[type=file]")
    picker.send_keys(str(root / "cat.jpg"))
    predict.find_element("css selector", "button.execute").click()
    (status,) = wait_for(
        browser, ".live-responses-table tr.response .response-col_status"
    )
    assert status.text.strip() == "200"
    body = predict.find_element(
        "css selector",
        ".live-responses-table tr.response .response-col_description pre",
    ).text
    (answer,) = json.loads(body)
    assert answer["path"] == "cat.jpg" and answer["label"] == "cat"
    curl = predict.find_element("css selector", ".curl-command").text
    assert f"{url}api/predict" in curl
    screenshot(browser, "docs-try-1280", 1280, 2400)

    browser.set_window_size(390, 844)
    browser.get(url + "docs")
    wait_for(browser, ".opblock", count=4)
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )
    screenshot(browser, "docs-390", 390, 1600)
    assert no_console_messages(browser) == []
    resources = browser.execute_script(RESOURCES)
    assert all(name.startswith(url) for name in resources), resources
