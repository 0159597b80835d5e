"""Calling code the check does not own — the user's functions, torch, the generated code — with one error policy."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..core.errors import CheckError, MatderivError


def guarded(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with numpy's floating-point warnings off. An exception raised inside becomes a
    :class:`CheckError` ``"{what} failed: {type}: {message}"`` (a MatderivError passes through unchanged)."""
    try:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    except MatderivError:
        raise
    except Exception as exc:  # the user's code may raise anything
        raise CheckError(f"{what} failed: {type(exc).__name__}: {exc}") from exc


def low_precision(value: Any) -> bool:
    """Whether a gradient value is a float32 (or float16) array or tensor: it carries at best ~7 digits."""
    dtype = getattr(value, "dtype", None)
    name = str(dtype) if dtype is not None else ""
    return name.endswith(("float32", "float16", "bfloat16"))
