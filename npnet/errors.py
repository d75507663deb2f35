"""npnet's own error types.

Every error npnet raises on purpose is an :class:`NpnetError`, and also a subclass of the built-in a
student would expect (``ValueError`` for a bad value, ``TypeError`` for a wrong type,
``FileNotFoundError`` for missing data), so ``except ValueError`` keeps working. The CLI turns any
``NpnetError`` into one line; anything else escaping a public function is a bug in npnet.
"""


class NpnetError(Exception):
    """Base class of every error npnet raises deliberately."""


class NpnetValueError(NpnetError, ValueError):
    """An argument has the right type but a wrong value, shape or range."""


class NpnetTypeError(NpnetError, TypeError):
    """An argument has the wrong type or dtype."""


class NpnetIndexError(NpnetError, IndexError):
    """An index (a layer of a network, a position) lies outside the range it selects from."""


class FileFormatError(NpnetError, ValueError):
    """A file (weights, checkpoint, data set) is corrupt, truncated, hostile or of the wrong layout."""


class DataNotFoundError(NpnetError, FileNotFoundError):
    """Weights or a data file were not found anywhere the lookup searched.

    The message lists every place searched (several lines, for a person reading it); ``summary`` is
    the same news in one line (what is missing, how many places were searched, how to get it), for
    the CLI and for pytest's skip reasons.
    """

    def __init__(self, message, summary=None):
        super().__init__(message)
        self.summary = summary


class TrainingDivergedError(NpnetError, FloatingPointError):
    """A loss or parameter became NaN/Inf during optimisation; the message names the iteration."""


class PrecisionWarning(UserWarning):
    """A result is computed as asked but in a precision too coarse for its purpose (e.g. a numerical
    gradient of a float32 array, good to about 1e-2 instead of 1e-9)."""


def one_line(exc):
    """A one-line description of error ``exc``: its ``summary`` if it has one, else its message with
    the line breaks folded into spaces."""
    summary = getattr(exc, "summary", None)
    return summary or " ".join(str(exc).split())
