"""The page ``logitnet serve`` shows at ``/``.

One HTML document, with its one inline style and script; the server's
Content-Security-Policy allows exactly those (by their SHA-256) and
requests to itself, nothing else, so the page works offline. A person
picks, drops or pastes photos; each is sent to ``/api/explain`` and shown
as a row, in the order given: the thumbnail, the label, the probabilities
as the command line prints them (``cat 78.1 %, non-cat 21.9 %``), a bar
(for k >= 3 classes, one per class of the three most probable) and the
explanation ``explain`` draws (one panel above the other on a
phone), and beneath it a "how it decided" panel that draws, on request,
the computation graph ``logitnet graph`` draws (``/api/graph``; with the
true class the person picks, the backward pass too). Above the answers,
how far to trust them: the model's recorded
test accuracy and what it was trained on (:func:`accuracy_in_words`).
The model card is :func:`logitnet.viz.report.model_card`.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logitnet.app.modelfile import SavedModel
    from logitnet.server.uploads import Limits

__all__ = ["SCRIPT", "STYLE", "accuracy_in_words", "render_page"]

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
.row { grid-template-columns: 6rem minmax(0, 1fr); }
.row .label { font-weight: 600; font-size: 1.2rem; }
.percent { white-space: nowrap; }
.row .message { color: #a51d2d; }
.row .name { overflow-wrap: anywhere; }
.row meter { width: 100%; max-width: 20rem; height: 1.2rem; }
.row .bar { display: grid; grid-template-columns: minmax(0, 8rem) minmax(0, 20rem) auto;
            gap: 0.5rem; align-items: center; }
.row .bar .class { overflow-wrap: anywhere; }
/* Blue, not green: a long bar is a confident model, not a right one. */
.row meter::-webkit-meter-optimum-value { background: #1a5fb4; }
.row meter::-moz-meter-bar { background: #1a5fb4; }
.row details img, .card img { max-width: 100%; height: auto; }
.row details.graph { margin-top: 0.5rem; }
.graph-form { display: flex; flex-wrap: wrap; gap: 0.5rem; margin: 0.4rem 0; }
.graph-form select { max-width: 100%; }
#trust { border-left: 4px solid #1a5fb4; background: #eef4fc; margin: 0.8rem 0;
         padding: 0.4rem 0.8rem; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; font-weight: 600; }
code { background: #f3f3f3; padding: 0 0.2rem; }
@media (max-width: 30rem) {
  body { padding: 0.6rem; }
  .row { grid-template-columns: minmax(0, 1fr); }
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

// A probability as the command line prints it, the one rule of logitnet
// (Python's f"{100 * p:.1f} %"): one decimal, a space before %. toFixed
// rounds the same exact value, but a tie upwards where Python rounds it to
// even; a tie is exactly when 4 * 100p is an odd integer (0.25, 99.75).
function percent(p) {
  const v = 100 * p;
  const quarters = 4 * v;
  if (Number.isInteger(quarters) && quarters % 2 !== 0) {
    const n = Math.floor(10 * v);  // 10 v ends in .5, exactly
    return ((n % 2 === 0 ? n : n + 1) / 10).toFixed(1) + " %";
  }
  return v.toFixed(1) + " %";
}

// [class, p] pairs, the most probable first (ties in the model's order).
function ranked(probabilities) {
  return Object.entries(probabilities).sort((a, b) => b[1] - a[1]);
}

// "cat 78.1 %, non-cat 21.9 %" as text, each percentage kept on one line.
function shares(probabilities) {
  const line = element("div", "shares");
  ranked(probabilities).forEach(([name, p], i) => {
    if (i) line.append(", ");
    line.append(name + " ", element("span", "percent", percent(p)));
  });
  return line;
}

function meter(name, p) {
  const bar = element("meter");
  bar.min = 0; bar.max = 1; bar.value = p;
  bar.setAttribute("aria-label", "P(" + name + ")");
  return bar;
}

// Two classes: the predicted class's bar. More: a bar for each of the
// TOP most probable classes, named, with its percentage.
const TOP = 3;
function bars(probabilities, label) {
  const top = ranked(probabilities);
  if (top.length <= 2) return [meter(label, probabilities[label])];
  return top.slice(0, TOP).map(([name, p]) => {
    const line = element("div", "bar");
    line.append(element("span", "class", name), meter(name, p),
                element("span", "percent", percent(p)));
    return line;
  });
}

// The layout of the explanation: one panel above the other on a phone.
const narrow = window.matchMedia("(max-width: 40rem)");

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
  results.append(row);  // in the order the photos were given
  const form = new FormData();
  form.append("file", file, file.name);
  const layout = narrow.matches ? "tall" : "wide";
  let answer, failed;
  try {
    const response = await fetch("api/explain?layout=" + layout,
                                 {method: "POST", body: form});
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
  body.append(element("div", "label", answer.label),
              shares(answer.probabilities));
  body.append(...bars(answer.probabilities, answer.label));
  body.append(element("div", "note", "z = " + answer.decision_value.toFixed(3)));
  const details = element("details", "explanation");
  details.open = true;
  details.append(element("summary", "",
                         "Why: each pixel's push, laid over the picture"));
  const picture = element("img", "explanation");
  picture.alt = "the explanation of " + file.name + ": each pixel's contribution to z";
  picture.src = "data:image/png;base64," + answer.png;
  details.append(picture);
  body.append(details, howItDecided(file, Object.keys(answer.probabilities)));
}

// "How it decided": the neuron's computation graph for this photo, drawn
// on request (/api/graph), with the backward pass when its true class is
// chosen.
function howItDecided(file, classes) {
  const panel = element("details", "graph");
  panel.append(element("summary", "", "How it decided: the computation graph"));
  const form = element("div", "graph-form");
  const choice = element("select");
  choice.setAttribute("aria-label", "the photo's true class");
  choice.append(new Option("true class: not given", ""));
  for (const name of classes) choice.append(new Option("true class: " + name, name));
  const draw = element("button", "", "Draw the graph");
  draw.type = "button";
  form.append(choice, draw);
  const status = element("div", "note");
  const picture = element("img", "graph");
  picture.alt = "the computation graph of " + file.name;
  picture.hidden = true;
  panel.append(element("p", "note", "z = w·x + b, a = sigmoid(z) (for three " +
                       "classes or more, the softmax of each class's z); with " +
                       "the true class, the loss and the gradient flowing back."),
               form, status, picture);
  draw.addEventListener("click", async () => {
    draw.disabled = true;
    status.textContent = "drawing…";
    const query = new URLSearchParams({layout: narrow.matches ? "tall" : "wide"});
    if (choice.value) query.set("label", choice.value);
    const upload = new FormData();
    upload.append("file", file, file.name);
    try {
      const response = await fetch("api/graph?" + query,
                                   {method: "POST", body: upload});
      if (!response.ok) {
        const said = await response.json().catch(() => ({}));
        throw new Error(said.error || "the server answered " + response.status);
      }
      if (picture.src) URL.revokeObjectURL(picture.src);
      picture.src = URL.createObjectURL(await response.blob());
      picture.hidden = false;
      status.textContent = "";
    } catch (e) {
      status.textContent = "Error: " + e.message;
    } finally {
      draw.disabled = false;
    }
  });
  return panel;
}

function take(files) {
  const first = results.children.length;
  for (const file of Array.from(files)) explain(file);
  // The first new row is shown: the newest are at the end.
  if (results.children[first]) {
    results.children[first].scrollIntoView({block: "nearest"});
  }
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
    # "cat or non-cat?" as ever; "cat, coffee or rocket?" for k classes.
    question = (
        f"{classes[1]} or {classes[0]}?"
        if len(classes) == 2
        else f"{', '.join(classes[:-1])} or {classes[-1]}?"
    )
    name = html.escape(model_name)
    trust = html.escape(f"{model_name} is {accuracy_in_words(model)}")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>logitnet: {question}</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{question}</h1>
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
<p id="trust"><strong>How far to trust the answers:</strong> {trust}.</p>
<section id="results" aria-live="polite" aria-label="results"></section>
{model_card(model)}
<p class="note">The API: <a href="docs">docs</a> ·
<a href="openapi.json">openapi.json</a></p>
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""


def accuracy_in_words(model: SavedModel) -> str:
    """How good ``model`` is, as its file records it, in one phrase: "right
    on 70 % of its 50 test pictures; trained on 209 64×64 pictures"
    (:func:`logitnet.app.evaluation.recorded_accuracy_in_words`, then what
    it was trained on).
    """  # noqa: RUF002 (the multiplication sign: it is read by people)
    from logitnet.app.evaluation import recorded_accuracy_in_words

    said = recorded_accuracy_in_words(model)
    height, width = model.image_shape[:2]
    n_train = (model.training or {}).get("n_train")
    # The multiplication sign: it is read by people.
    pictures = f"{height}×{width} pictures"  # noqa: RUF001
    if n_train:
        return f"{said}; trained on {int(n_train):,} {pictures}"
    return f"{said}; it takes {pictures}"
