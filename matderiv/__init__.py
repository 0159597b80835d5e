"""matderiv: closed-form matrix derivatives, printed as LaTeX, generated as numpy code, certified with mpmath.

>>> import matderiv as md
>>> X = md.matrix("X", "n", "m"); a = md.vector("a", "n"); b = md.vector("b", "m")
>>> md.grad(a.T @ X @ b, X)
a @ b.T
"""
from __future__ import annotations

from .api import (ArgumentError, CheckError, CheckReport, DerivativeError, GradReport, check_vjp, gradcheck, Expr, InvalidNameError, MatderivError,
                  ParseError, ShapeError, __all__, __version__, abs, add, apply, check, const, cos, det, diag,
                  divide, elementwise, exp, eye, from_sympy, from_torch, grad, inv, kron, lambdify, latex, latex_equation, log,
                  logdet, logsumexp, matmul, matrix, mpmath_code, mpmath_function, mul, norm1, norm2, numpy_code,
                  ones, ones_like, parse, power, relu, scalar, sigmoid, sign, simplify, sin, softmax, softplus,
                  solve, sqrt, step, sum, symbol, tan, tanh, to_sympy, to_text, torch_parameters, trace, transpose, vector, vjp,
                  zeros, zeros_like)
from . import testing  # md.testing: assert_grad_correct, assert_vjp_correct, assert_gradcheck
