"""What the API answers, as pydantic models: ``/openapi.json`` describes
each answer from them, and ``/docs`` shows them.

The endpoints build their answers as plain JSON (``predict --json``'s
objects, :func:`logitnet.server.api.model_metadata`); these models are
their description, not a second implementation: ``tests/test_serve.py``
validates real answers against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ERRORS",
    "UPLOAD_BODY",
    "Explanation",
    "FileError",
    "Health",
    "ModelInfo",
    "Prediction",
    "Refusal",
]

_PATH = Field(
    description="The file's name as the client gave it (`upload` for a raw "
    "body); only echoed, never used to open anything.",
    examples=["cat.jpg"],
)


class Prediction(BaseModel):
    """One picture's answer: what ``logitnet predict --json`` prints for it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "path": "cat.jpg",
                    "label": "cat",
                    "probabilities": {"non-cat": 0.219, "cat": 0.781},
                }
            ]
        }
    )

    path: str = _PATH
    label: str = Field(description="The more probable class.")
    probabilities: dict[str, float] = Field(
        description="Each class's probability, in the model's order of "
        "classes; they add up to 1. With ?top=K, the K most probable only, "
        "the most probable first."
    )


class FileError(BaseModel):
    """A file that is not a picture: its own entry, the others are answered."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"path": "notes.txt", "error": "not an image file Pillow can read"}
            ]
        }
    )

    path: str = _PATH
    error: str = Field(description="Why it could not be read, in one line.")


class Explanation(Prediction):
    """One picture explained as ``logitnet explain`` explains it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "path": "cat.jpg",
                    "label": "cat",
                    "probabilities": {"non-cat": 0.142, "cat": 0.858},
                    "decision_value": 1.798,
                    "png": "iVBORw0KGgo...",
                }
            ]
        }
    )

    probabilities: dict[str, float] = Field(
        description="Each class's probability, in the model's order of "
        "classes; they add up to 1."
    )
    decision_value: float = Field(
        description="z = w·x + b; two classes: the second class's probability "
        "is sigmoid(z); more: the predicted class's z (its probability is the "
        "softmax of every class's z)."
    )
    png: str = Field(
        description="The explanation `logitnet explain` draws (each pixel's "
        "push towards a class laid over the picture), a PNG in base64."
    )


class ModelInfo(BaseModel):
    """What the model file records, without its weights or local paths."""

    classes: list[str] = Field(
        description="Class names; label i is classes[i].", examples=[["non-cat", "cat"]]
    )
    image_shape: list[int] = Field(
        description="(height, width, channels) of the model's input; a "
        "picture is resized to it.",
        examples=[[64, 64, 3]],
    )
    n_weights: int = Field(description="height * width * channels.")
    bias: float | list[float] = Field(
        description="b: one number for two classes, one per class for more."
    )
    accuracy_in_words: str = Field(
        description="How good the model is, as its file records it.",
        examples=[
            "right on 70 % of its 50 test pictures; trained on 209 64×64 pictures"  # noqa: RUF001
        ],
    )
    training: dict[str, Any] = Field(
        description="The solver's settings, the data's kind and counts "
        "(n_train, n_test), and the cost as it fell."
    )
    metrics: dict[str, Any] = Field(
        description="test_accuracy and train_accuracy in percent, and each "
        "split's metrics (accuracy, precision, recall, f1, roc_auc, log_loss "
        "as fractions; null where undefined)."
    )
    preprocessing: dict[str, str] = Field(
        description="How a picture becomes the model's input."
    )
    logitnet_version: str = Field(description="The logitnet that trained it.")


class Health(BaseModel):
    """The server answers."""

    status: Literal["ok"]


class Refusal(BaseModel):
    """A request refused as a whole: every error of this API has this shape."""

    error: str = Field(description="Why, in one line.")


#: The OpenAPI description of an upload: multipart files or one raw picture.
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more pictures (JPEG, PNG, "
                            "GIF, WebP, BMP, TIFF, ...).",
                        }
                    },
                    "required": ["file"],
                }
            },
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _refusal(description: str, example: str) -> dict[str, Any]:
    return {
        "description": description,
        "model": Refusal,
        "content": {"application/json": {"example": {"error": example}}},
    }


#: Each refusal of an upload, in the one shape :class:`Refusal`.
ERRORS = {
    400: _refusal("a malformed request", "the request has no body: send a picture"),
    408: _refusal("the body came too slowly", "the body took longer than 30 s"),
    413: _refusal(
        "a file or the request over its limit",
        "a file has more than 20,971,520 bytes (the per-file limit)",
    ),
    415: _refusal(
        "neither multipart nor a picture",
        "expected multipart/form-data or a picture as the body; got text/plain",
    ),
    421: _refusal(
        "a Host this server was not started for",
        "this server does not answer for the host 'example.com' (start it "
        "with --allowed-host example.com to allow it)",
    ),
    422: _refusal(
        "a decompression bomb, a picture over the decode budget, or a query "
        "parameter out of its range",
        "bomb.png: refused, 10000x7000 = 70,000,000 pixels (more than ...)",
    ),
    503: _refusal(
        "no room in the decode budget: retry after Retry-After s",
        "the server is busy decoding other pictures; try again shortly",
    ),
}
