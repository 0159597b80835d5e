"""Generated code: standalone numpy functions (:func:`numpy_code`, :func:`lambdify`) and mpmath functions
(:func:`mpmath_code`, :func:`mpmath_function`) for the certificate.

:mod:`.common` (identifiers, transposes, use counts, numbers) and :mod:`.args` (parameters, dimensions, shape
checks) serve every backend; :mod:`.stable` rewrites what the numpy code evaluates into numerically stable
forms, :mod:`.lower` rewrites the IR for array libraries (and shares inverses and factorisations between
solves), :mod:`.numpy` prints it (a backend for another array library is a subclass of its printer),
:mod:`.mpmath` calls the ops' own definitions.
See docs/extending.md."""
from __future__ import annotations

from .numpy import lambdify, numpy_code
from .mpmath import mpmath_code, mpmath_function

__all__ = ["numpy_code", "lambdify", "mpmath_code", "mpmath_function"]
