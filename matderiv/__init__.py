"""matderiv: closed-form matrix derivatives, printed as LaTeX, generated as numpy code, certified with mpmath.

>>> import matderiv as md
>>> X = md.matrix("X", "n", "m"); a = md.vector("a", "n"); b = md.vector("b", "m")
>>> md.grad(a.T @ X @ b, X)
a @ b.T
"""
from __future__ import annotations

from .api import *  # noqa: F403  (the public API, defined once in matderiv.api; op blocks export through it)
from .api import __all__, __version__  # noqa: F401
from . import testing  # noqa: E402  md.testing: assert_grad_correct, assert_vjp_correct, assert_gradcheck
