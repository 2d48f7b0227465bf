"""Errors logitnet raises on bad input.

Each message names what was expected, what was given and, where it helps,
how to fix it, so the command line can print it as one line.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "DivergenceError",
    "LogitnetError",
    "ModelFileError",
    "OutputPathError",
    "PathClashError",
    "PictureWarning",
    "TooManyPixelsError",
]


class LogitnetError(Exception):
    """Base class of logitnet's own errors."""


class DataError(LogitnetError, ValueError):
    """A data file is missing, unreadable, or not in the expected layout."""


class TooManyPixelsError(DataError):
    """A picture has more pixels than logitnet decodes: refused before
    decoding (a decompression bomb?)."""


class ModelFileError(LogitnetError, ValueError):
    """A model file is missing, damaged, foreign or of an unknown version."""


class DivergenceError(LogitnetError, ArithmeticError):
    """Training left the float range: the weights became inf or NaN."""


class OutputPathError(LogitnetError, ValueError):
    """An output file cannot be written where the user asked for it."""


class PathClashError(OutputPathError):
    """An output path names an input, or another output: a usage error."""


class PictureWarning(UserWarning):
    """A picture was decoded, but its file is not quite right (Pillow found
    damaged EXIF data, a malformed MPO index...): the message names it."""
