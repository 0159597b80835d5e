"""The public API of matderiv, defined once: ``import matderiv`` re-exports these names, and the application
layer (``matderiv.app``) imports them from here, never from the package facade."""
from __future__ import annotations

from .ad import differential, grad, hvp, jvp, vjp
from .jacobian import hessian, jacobian
from .check import CheckReport, GradReport, check, check_vjp, gradcheck
from .check.second import SecondReport, check_hvp, check_jacobian, check_jvp
from .codegen import lambdify, mpmath_code, mpmath_function, numpy_code
from .core.errors import (ArgumentError, CheckError, DerivativeError, InvalidNameError, MatderivError, ParseError,
                     ShapeError)
from .core.expr import Expr
from .ops import API as _OPS_API
from .ops import (abs_ as abs, add, apply, cos, det, diag, divide, elementwise, exp, eye, inv, kron, log, logdet,
                  logsumexp, matmul, mul, norm1, norm2, ones, ones_like, power, relu, sigmoid, sign, sin, softmax,
                  softplus, solve, sqrt, step, sum_ as sum, tan, tanh, trace, transpose, zeros, zeros_like)
from .ops import const, symbol
from .printing.differential import latex_differential
from .printing.explain import Explanation, explain
from .printing.latex import latex, latex_equation
from .lang import parse, to_text
from .simplify import simplify
from .interop import from_sympy, from_torch, to_sympy, torch_parameters

__version__ = "0.1.0"


def matrix(name: str, rows: object, cols: object, symmetric: bool = False) -> Expr:
    """The matrix symbol ``name`` (rows×cols); dimensions are ints, names or SymPy symbols."""
    return symbol(name, rows, cols, symmetric=symmetric)


def vector(name: str, n: object) -> Expr:
    """The column vector symbol ``name`` (n×1)."""
    return symbol(name, n, 1)


def scalar(name: str) -> Expr:
    """The scalar symbol ``name`` (1×1)."""
    return symbol(name, 1, 1)


__all__ = [
    "Expr", "matrix", "vector", "scalar", "const", "eye", "ones", "zeros", "ones_like", "zeros_like",
    "add", "mul", "matmul", "divide", "power", "transpose", "apply", "elementwise",
    "trace", "det", "logdet", "inv", "solve", "sum", "norm1", "norm2", "diag", "kron", "logsumexp", "softmax",
    "exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "abs", "sign", "relu", "sigmoid", "softplus", "step",
    "grad", "vjp", "jvp", "hvp", "differential", "latex_differential", "explain", "Explanation",
    "jacobian", "hessian", "simplify", "latex", "latex_equation",
    "MatderivError", "ShapeError", "DerivativeError", "ParseError", "ArgumentError", "InvalidNameError",
    "CheckError",
    "check", "CheckReport", "check_jacobian", "check_hvp", "check_jvp", "SecondReport", "check_vjp", "GradReport", "gradcheck", "mpmath_code", "mpmath_function",
    "from_sympy", "to_sympy", "from_torch", "torch_parameters",
    "parse", "to_text",
    "numpy_code", "lambdify",
]
globals().update(_OPS_API)  # every op block's constructors, including blocks added later (ops.API)
__all__ += sorted(set(_OPS_API) - set(__all__))
