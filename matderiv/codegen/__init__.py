"""Generated code: standalone numpy functions (:func:`numpy_code`, :func:`lambdify`) and mpmath functions
(:func:`mpmath_code`, :func:`mpmath_function`) for the certificate."""
from __future__ import annotations

from .numpy import lambdify, numpy_code
from .mpmath import mpmath_code, mpmath_function

__all__ = ["numpy_code", "lambdify", "mpmath_code", "mpmath_function"]
