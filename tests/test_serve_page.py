"""``logitnet serve``'s page in headless Chromium: pick a photo, see its
label and explanation; pick a text file, see an error row; no console
errors, nothing fetched from outside 127.0.0.1, usable by keyboard and at
a phone's width."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from conftest import run
from serving import Server

#: Every resource the page loaded, with where it came from.
RESOURCES = "return performance.getEntriesByType('resource').map(e => e.name);"


@pytest.fixture(scope="module")
def served(data_dir, cat_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    model = root / "model.npz"
    done = run("train", "--out", str(model), timeout=300)
    assert done.returncode == 0, done.stderr
    _, _, test_x, _, _ = cat_data
    Image.fromarray(test_x[1]).resize((256, 256)).save(root / "cat.jpg")
    (root / "notes.txt").write_text("not a picture\n")
    server = Server(model)
    yield server, root
    status, err = server.stop()
    assert status == 0, err


def wait_for(browser, css: str, timeout: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(
        lambda b: b.find_elements("css selector", css)
    )[0]


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
    label = wait_for(browser, ".row .label")
    assert label.text.startswith("cat (")
    explanation = wait_for(browser, ".row img.explanation")
    size = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "arguments[0].decode().then(() => done(arguments[0].naturalWidth),"
        " () => done(0));",
        explanation,
    )
    assert size > 400
    assert browser.find_element("css selector", ".row meter").get_attribute("value")

    picker.send_keys(str(root / "notes.txt"))
    error = wait_for(browser, ".row.error .message")
    assert "not an image file" in error.text
    assert len(browser.find_elements("css selector", ".row")) == 2

    # A phone's width: nothing wider than the screen.
    browser.set_window_size(390, 844)
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )
    screenshot = os.environ.get("LOGITNET_SCREENSHOT")
    if screenshot:
        Path(screenshot).write_bytes(browser.get_screenshot_as_png())
    browser.set_window_size(1280, 1600)
    if screenshot:
        Path(screenshot).with_suffix(".wide.png").write_bytes(
            browser.get_screenshot_as_png()
        )

    console = [e for e in browser.get_log("browser") if e["level"] != "INFO"]
    assert console == []
    resources = browser.execute_script(RESOURCES)
    assert resources
    assert all(name.startswith(url) for name in resources), resources


def test_the_docs_page_lists_the_endpoints(browser, served):
    server, _ = served
    browser.get(f"http://127.0.0.1:{server.port}/docs")
    item = wait_for(browser, "#endpoints li")
    assert "/api/" in item.text
    assert [e for e in browser.get_log("browser") if e["level"] != "INFO"] == []
