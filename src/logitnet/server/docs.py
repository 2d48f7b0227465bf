"""The API page at ``/docs``: Swagger UI, served by this server itself.

Swagger UI's script and style come from the ``swagger-ui-bundle-v2``
package (a runtime dependency) and are served at ``/docs/<name>``, so the
page fetches nothing from elsewhere and works offline, under the same
Content-Security-Policy as the rest: scripts and styles from this server,
and the page's one inline script and style by their hashes. Its "Try it
out" sends requests to this server: a picture can be chosen and sent to
``/api/predict`` from the page. Above it, ``curl`` examples with the
address the browser used (:func:`render_docs`), so they work when copied.
"""

from __future__ import annotations

import html
from functools import cache

__all__ = ["ASSETS", "DOCS_SCRIPT", "DOCS_STYLE", "asset", "render_docs"]

#: The files of Swagger UI that ``/docs`` loads, and their media types.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}

DOCS_STYLE = """
body { margin: 0; font-family: system-ui, sans-serif; color: #222; }
header.intro { max-width: 1460px; margin: 0 auto; padding: 1rem 20px 0;
               line-height: 1.4; }
header.intro h1 { margin: 0.2rem 0; font-size: 1.6rem; }
header.intro pre { background: #f3f3f3; padding: 0.6rem; overflow-x: auto;
                   border-radius: 0.3rem; }
/* The title, version and description are in the header above. */
.swagger-ui .information-container { display: none; }
"""

# Relative URLs, like the page's: they work behind a proxy's prefix too.
DOCS_SCRIPT = """
"use strict";
// Swagger UI looks up a component for each type and format of a field, and
// warns on the console when it has none; a binary string (a file) is drawn
// as a string, which shows a file input.
function binaryStrings(system) {
  const Binary = (props) =>
    system.React.createElement(props.getComponent("JsonSchema_string"), props);
  return {components: {JsonSchema_string_binary: Binary}};
}
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  plugins: [binaryStrings],
  deepLinking: false,
  validatorUrl: null,
  tryItOutEnabled: true,
  defaultModelsExpandDepth: 0,
});
"""


@cache
def asset(name: str) -> bytes:
    """The bytes of one of Swagger UI's :data:`ASSETS`, read once.

    Raises
    ------
    KeyError
        If ``name`` is not one of them.
    """
    from swagger_ui_bundle import swagger_ui_path

    if name not in ASSETS:
        raise KeyError(name)
    return (swagger_ui_path / name).read_bytes()


def render_docs(base_url: str, *, title: str, version: str, description: str) -> str:
    """The ``/docs`` page, its examples addressed to ``base_url`` (the
    request's own scheme, host and port, ending in ``/``)."""
    base = html.escape(base_url.rstrip("/"))
    examples = "\n".join(
        [
            "# classify pictures (any number, in one request)",
            f"curl -F file=@cat.jpg -F file=@dog.png {base}/api/predict",
            "# one picture as the body",
            f"curl --data-binary @cat.jpg {base}/api/predict",
            "# only the two most probable classes of each, the most probable first",
            f"curl -F file=@cat.jpg '{base}/api/predict?top=2'",
            "# why: z, the probabilities and the explanation (base64 PNG)",
            f"curl -F file=@cat.jpg {base}/api/explain",
            "# what the model is, and how good",
            f"curl {base}/api/model",
        ]
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/swagger-ui.css">
<style>{DOCS_STYLE}</style>
</head>
<body>
<header class="intro">
<h1>{html.escape(title)} API <small>{html.escape(version)}</small></h1>
<p>{html.escape(description)} Try each request below ("Try it out" sends it
to this server), or from a shell:</p>
<pre><code>{examples}</code></pre>
<p>Every error is <code>{{"error": "why, in one line"}}</code>. The page:
<a href=".">{base}/</a> · the schema: <a href="openapi.json">openapi.json</a></p>
</header>
<main id="swagger-ui"></main>
<script src="docs/swagger-ui-bundle.js"></script>
<script>{DOCS_SCRIPT}</script>
</body>
</html>
"""
