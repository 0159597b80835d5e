"""pytest helpers: assertions that raise ``AssertionError`` with the whole report when a check fails.

>>> import numpy as np, matderiv as md
>>> X = md.matrix("X", 3, 3)
>>> md.testing.assert_grad_correct(md.logdet(X), X, grad=lambda X: np.linalg.inv(X).T)
"""
from __future__ import annotations

from typing import Any

from .check import check, check_vjp, gradcheck

__tracebackhide__ = True


def _assert(report: Any) -> Any:
    __tracebackhide__ = True
    if not report:
        raise AssertionError("\n" + str(report))
    return report


def assert_grad_correct(f: object, wrt: object, grad: object = None, **options: Any) -> Any:
    """``md.check(f, wrt, grad=grad, **options)`` must pass (matderiv's own derivative when grad is None);
    returns the report."""
    __tracebackhide__ = True
    return _assert(check(f, wrt, grad=grad, **options))


def assert_vjp_correct(F: object, wrt: object, vjp: object, **options: Any) -> Any:
    """``md.check_vjp(F, wrt, vjp=vjp, **options)`` must pass; returns the report."""
    __tracebackhide__ = True
    return _assert(check_vjp(F, wrt, vjp, **options))


def assert_gradcheck(func: Any, inputs: Any, grad: Any = None, **options: Any) -> Any:
    """``md.gradcheck(func, inputs, grad=grad, **options)`` must pass; returns the report."""
    __tracebackhide__ = True
    return _assert(gradcheck(func, inputs, grad=grad, **options))


__all__ = ["assert_grad_correct", "assert_vjp_correct", "assert_gradcheck"]
