"""The page ``logitnet serve`` shows at ``/``, and its ``/docs`` page.

One HTML document each, with its one inline style and script; the server's
Content-Security-Policy allows exactly those (by their SHA-256) and
requests to itself, nothing else, so the page works offline. A person
picks, drops or pastes photos; each is sent to ``/api/explain`` and shown
as a row: the thumbnail, the label, a probability bar and the explanation
``explain`` draws. The model card is :func:`logitnet.viz.report.model_card`.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logitnet.app.modelfile import SavedModel
    from logitnet.server.uploads import Limits

__all__ = ["DOCS_PAGE", "DOCS_SCRIPT", "SCRIPT", "STYLE", "render_page"]

STYLE = """
:root { color-scheme: light; }
body { font-family: system-ui, sans-serif; max-width: 62rem; margin: 0 auto;
       padding: 1rem; color: #222; line-height: 1.4; }
h1 { margin: 0.2rem 0; font-size: 1.6rem; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2rem; margin-top: 2rem; }
.note { color: #555; }
#drop { display: block; border: 2px dashed #888; border-radius: 0.6rem;
        padding: 1.5rem; text-align: center; cursor: pointer; background: #fafafa; }
#drop:focus-within, #drop.over { border-color: #1a5fb4; background: #eef4fc; }
#drop:focus-within { outline: 3px solid #1a5fb4; outline-offset: 2px; }
#files { position: absolute; width: 1px; height: 1px; opacity: 0; }
.row { display: grid; grid-template-columns: 6rem 1fr; gap: 0.8rem;
       border: 1px solid #ddd; border-radius: 0.5rem; padding: 0.6rem;
       margin: 0.8rem 0; }
.row img.thumb { width: 6rem; height: 6rem; object-fit: cover; border-radius: 0.3rem; }
.row .thumb.none { width: 6rem; height: 6rem; display: flex; align-items: center;
       justify-content: center; background: #f6d8da; color: #a51d2d;
       font-size: 2.5rem; border-radius: 0.3rem; }
.row.error { border-color: #c01c28; background: #fdf0f0; }
.row .label { font-weight: 600; font-size: 1.2rem; }
.row .message { color: #a51d2d; }
.row meter { width: 100%; max-width: 20rem; height: 1.2rem; }
.row details img, .card img { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; font-weight: 600; }
code { background: #f3f3f3; padding: 0 0.2rem; }
@media (max-width: 30rem) {
  .row { grid-template-columns: 1fr; }
  .row img.thumb { width: 100%; height: auto; max-height: 14rem; }
}
"""

SCRIPT = """
"use strict";
const results = document.getElementById("results");
const input = document.getElementById("files");
const drop = document.getElementById("drop");

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function percent(p) { return (100 * p).toFixed(1) + " %"; }

async function explain(file) {
  const row = element("article", "row pending");
  row.setAttribute("aria-busy", "true");
  const thumb = element("img", "thumb");
  thumb.alt = "the picture " + file.name;
  const url = URL.createObjectURL(file);
  thumb.src = url;
  thumb.addEventListener("error", () => { thumb.alt = "(no preview)"; });
  const body = element("div", "body");
  body.append(element("div", "name", file.name),
              element("div", "status", "asking the model…"));
  row.append(thumb, body);
  results.prepend(row);
  const form = new FormData();
  form.append("file", file, file.name);
  let answer, failed;
  try {
    const response = await fetch("api/explain", {method: "POST", body: form});
    answer = await response.json();
    failed = !response.ok;
  } catch (e) {
    answer = {error: "the server did not answer (" + e.message + ")"};
    failed = true;
  }
  body.replaceChildren(element("div", "name", file.name));
  row.classList.remove("pending");
  row.removeAttribute("aria-busy");
  if (failed || answer.error) {
    row.classList.add("error");
    body.append(element("div", "message", "Error: " + (answer.error || "unknown")));
    URL.revokeObjectURL(url);
    const none = element("div", "thumb none", "✕");
    none.setAttribute("aria-hidden", "true");
    thumb.replaceWith(none);
    return;
  }
  const classes = Object.keys(answer.probabilities);
  const positive = classes[classes.length - 1];
  const p = answer.probabilities[answer.label];
  body.append(element("div", "label", answer.label + " (" + percent(p) + ")"));
  const bar = element("meter");
  bar.min = 0; bar.max = 1; bar.value = answer.probabilities[positive];
  bar.id = "meter-" + Math.random().toString(36).slice(2);
  const barLabel = element("label", "note",
                           "P(" + positive + ") = " + percent(bar.value) + " ");
  barLabel.htmlFor = bar.id;
  body.append(barLabel, bar);
  body.append(element("div", "note", "z = " + answer.decision_value.toFixed(3)));
  const details = element("details", "explanation");
  details.open = true;
  details.append(element("summary", "",
                         "Why: each pixel's push, laid over the picture"));
  const picture = element("img", "explanation");
  picture.alt = "the explanation of " + file.name + ": each pixel's contribution to z";
  picture.src = "data:image/png;base64," + answer.png;
  details.append(picture);
  body.append(details);
}

function take(files) {
  for (const file of Array.from(files)) explain(file);
}

input.addEventListener("change", () => { take(input.files); input.value = ""; });
drop.addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
});
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  take(e.dataTransfer.files);
});
document.addEventListener("paste", (e) => {
  const files = Array.from(e.clipboardData.items)
    .filter((item) => item.kind === "file").map((item) => item.getAsFile());
  if (files.length) take(files);
});
"""


def render_page(model: SavedModel, *, model_name: str, limits: Limits) -> str:
    """The page at ``/``: the uploader, the results, the model card."""
    from logitnet.viz.report import model_card

    classes = [html.escape(str(c)) for c in model.classes]
    name = html.escape(model_name)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>logitnet: {classes[1]} or {classes[0]}?</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{classes[1]} or {classes[0]}?</h1>
<p class="note">Try your own photos on the model <strong>{name}</strong>.
Nothing leaves this computer: the pictures go to this server only, and
are not kept.</p>
</header>
<main>
<label id="drop" for="files">
<input id="files" type="file" accept="image/*" multiple>
<strong>Choose photos</strong>, drop them here, or paste one (Ctrl+V).
<span class="note">Up to {limits.max_files} at a time,
{limits.max_file_bytes // (1024 * 1024)} MB each.</span>
</label>
<section id="results" aria-live="polite" aria-label="results"></section>
{model_card(model)}
<p class="note">The API: <a href="docs">docs</a> ·
<a href="openapi.json">openapi.json</a></p>
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""


DOCS_SCRIPT = """
"use strict";
fetch("openapi.json").then((r) => r.json()).then((spec) => {
  const list = document.getElementById("endpoints");
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const item = document.createElement("li");
      const code = document.createElement("code");
      code.textContent = method.toUpperCase() + " " + path;
      item.append(code, " " + (op.summary || ""));
      const kinds = op.requestBody ? Object.keys(op.requestBody.content) : [];
      if (kinds.length) item.append(" (body: " + kinds.join(" or ") + ")");
      list.append(item);
    }
  }
});
"""

DOCS_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>logitnet API</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style>
</head>
<body>
<h1>logitnet API</h1>
<p class="note">From this server's <a href="openapi.json">openapi.json</a>;
no outside scripts. Example:
<code>curl -F file=@cat.jpg 127.0.0.1:8000/api/predict</code></p>
<ul id="endpoints"></ul>
<script>{DOCS_SCRIPT}</script>
</body>
</html>
"""
