"""logitnet: logistic regression as a neural network, as dependable software."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["LogisticRegression", "__version__", "load_model"]


def __getattr__(name: str):
    # Lazy: scikit-learn takes a while to import, and the CLI's commands that
    # do not use the estimator should not wait for it.
    if name == "LogisticRegression":
        from logitnet.core.estimator import LogisticRegression

        return LogisticRegression
    if name == "load_model":
        from logitnet.app.modelfile import load_model

        return load_model
    raise AttributeError(f"module 'logitnet' has no attribute {name!r}")
