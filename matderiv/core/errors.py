"""Errors a user can cause. Every one is a :class:`MatderivError` whose message names the culprit."""
from __future__ import annotations


class MatderivError(Exception):
    """Base class of every error matderiv raises for a user's mistake."""


class ShapeError(MatderivError, ValueError):
    """Operands whose shapes do not fit the operation (the message names both and their shapes); ``span`` is the
    text of the failing operation when the text language raised it (``'x*y'``), else None."""

    span: str | None = None


class DerivativeError(MatderivError):
    """A derivative that cannot be taken (or would need a seed, or a symbol to differentiate by)."""


class InvalidNameError(MatderivError, ValueError):
    """A symbol name that is not a Python identifier, or is a keyword."""


class ArgumentError(MatderivError, TypeError):
    """An argument of the wrong kind: not an expression, not a symbol, a missing value."""


class ParseError(MatderivError, ValueError):
    """Text that is not in the language; ``column`` is 1-based and the message ends with a caret line."""

    def __init__(self, message: str, text: str = "", column: int = 0) -> None:
        self.text, self.column, self.reason = text, column, message
        if text and column:
            message = f"{message} (column {column})\n  {text}\n  {' ' * (column - 1)}^"
        super().__init__(message)


class CheckError(MatderivError):
    """A certificate that could not be computed (no valid point found, a value of the wrong shape)."""


for _cls in (MatderivError, ShapeError, DerivativeError, InvalidNameError, ArgumentError, ParseError, CheckError):
    _cls.__module__ = "matderiv"  # tracebacks say matderiv.ShapeError, where users import it from

