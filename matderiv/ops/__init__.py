"""Every operation, each in one block of its module: its shape rule, VJP (and JVP) in matderiv's own ops, its
behaviour under transposition, domain, print forms, text-language name, SymPy counterpart and numerics, all
registered in :data:`matderiv.core.spec.OPS`.

Modules: :mod:`.base` (leaves, numbers, broadcasting), :mod:`.elementwise` (+, ⊙, powers, f(X)), :mod:`.linalg`
(@, ᵀ, tr, det, log det, inverses, solves), :mod:`.reductions` (sums, norms, logsumexp, softmax),
:mod:`.structure` (diag, ⊗ and its contractions). Importing this package attaches numpy's operators to
expressions (:mod:`.operators`).
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from ..core.spec import FUNCTIONS, OPS, node, rebuild
from . import operators  # noqa: F401  (attaches @, +, *, ... to Expr)
from .base import as_expr, const, dim, eye, is_number, ones, ones_like, symbol, zeros, zeros_like
from .elementwise import (abs_, add, apply, cos, divide, elementwise, exp, log, mul, neg, power, relu, sigmoid, sign,
                          sin, softplus, sqrt, step, tan, tanh, to_expr)
from .linalg import det, inv, logdet, matmul, solve, trace, transpose
from .reductions import logsumexp, norm1, norm2, softmax, sum_
from .structure import blockdot, blocksum, diag, diag_matrix, diagpart, kron

__all__ = ["OPS", "FUNCTIONS", "node", "rebuild", "as_expr", "const", "dim", "eye", "is_number", "ones", "ones_like",
           "symbol", "zeros", "zeros_like", "abs_", "add", "apply", "cos", "divide", "elementwise", "exp", "log",
           "mul", "neg", "power", "relu", "sigmoid", "sign", "sin", "softplus", "sqrt", "step", "tan", "tanh",
           "to_expr", "det", "inv", "logdet", "matmul", "solve", "trace", "transpose", "logsumexp", "norm1",
           "norm2", "softmax", "sum_", "blockdot", "blocksum", "diag", "diag_matrix", "diagpart", "kron"]


def _public() -> dict[str, Any]:
    """Every block module's ``PUBLIC`` constructors by their exported name: a module added to this package is
    exported with no edit anywhere else."""
    out: dict[str, Any] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name in getattr(module, "PUBLIC", ()):
            out[name.rstrip("_")] = getattr(module, name)
    return out


#: The public constructors of every op block, by the name ``md.<name>`` exports them under.
API: dict[str, Any] = _public()
