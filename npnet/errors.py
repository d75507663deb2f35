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


class FileFormatError(NpnetError, ValueError):
    """A file (weights, checkpoint, data set) is corrupt, truncated, hostile or of the wrong layout."""


class DataNotFoundError(NpnetError, FileNotFoundError):
    """Weights or a data file were not found anywhere the lookup searched."""


class TrainingDivergedError(NpnetError, FloatingPointError):
    """A loss or parameter became NaN/Inf during optimisation; the message names the iteration."""
