"""logitnet: logistic regression as a neural network, as dependable software."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["LogisticRegression", "__version__", "load_model", "save_model"]


def __getattr__(name: str):
    # Lazy: scikit-learn takes a while to import, and the CLI's commands that
    # do not use the estimator should not wait for it.
    if name == "LogisticRegression":
        from logitnet.core.estimator import LogisticRegression

        return LogisticRegression
    if name in ("load_model", "save_model"):
        from logitnet.app import modelfile

        return getattr(modelfile, name)
    raise AttributeError(f"module 'logitnet' has no attribute {name!r}")
