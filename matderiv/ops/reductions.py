"""Reductions: sums of entries, norms, log-sum-exp and softmax."""
from __future__ import annotations

from typing import Any

import mpmath
import sympy

from ..core.dims import ONE, Shape
from ..core.domains import NONZERO
from ..core.expr import Expr
from ..core.spec import ShapeAlgebra, deffunction, deflinear, defop, node, rule_for
from .base import as_expr, const, ones, to_scalar
from .elementwise import add, apply, mul, neg, power
from .linalg import matmul, transpose

__all__ = ["sum_", "norm1", "norm2", "logsumexp", "softmax"]
#: The names the package exports (``md.<name>``; a trailing ``_`` is dropped: ``sum_`` is ``md.sum``).
PUBLIC = ("sum_", "norm1", "norm2", "logsumexp", "softmax")


def _entries(v: Any) -> Any:
    return [v[i, j] for i in range(v.rows) for j in range(v.cols)]


# ---- sum -------------------------------------------------------------------------------------------------------
def _sum_vjp(g: Expr, out: Expr) -> Expr:
    """∂ 1ᵀX1/∂X = 𝟏𝟏ᵀ."""
    return mul(g, ones(*out.args[0].shape))


def _sum_sympy(conv: Any, e: Expr, a: Any) -> Any:
    """sum(A) = 𝟏ᵀA𝟏."""
    if not conv.is_matrix(a) or e.args[0].is_scalar:
        return a
    n, m = conv.shape(e.args[0])
    return sympy.MatMul(*([sympy.OneMatrix(1, n)] if n != 1 else []), a,
                        *([sympy.OneMatrix(m, 1)] if m != 1 else []))


def _sum(v: Any) -> Any:
    return mpmath.matrix([[mpmath.fsum(_entries(v))]])


deflinear("sum", to_scalar, _sum_vjp, arity=1, transpose="invariant", of_scalar=lambda s: s, text="sum({0})",
          latex=r"\operatorname{{sum}}\left({0}\right)", lang="sum", sympy=_sum_sympy, mpmath=_sum)


def sum_(a: object) -> Expr:
    """The sum of all entries, 1ᵀA1."""
    return node("sum", (as_expr(a, "argument of sum"),))


# ---- norms -------------------------------------------------------------------------------------------------------
def _norm2_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂‖X‖_F/∂X = X/‖X‖_F (C 2.6)."""
    return mul(g, out.args[0], power(out, -1))


def _norm2(v: Any) -> Any:
    return mpmath.matrix([[mpmath.sqrt(mpmath.fsum(e * e for e in _entries(v)))]])


defop("norm2", to_scalar, vjp=_norm2_vjp, arity=1, transpose="invariant", domain=NONZERO, text="norm2({0})",
      of_scalar=lambda s: apply("abs", s),
      latex=r"\left\| {0} \right\|", lang="norm2", mpmath=_norm2,
      sympy=lambda conv, e, a: sympy.sqrt(sympy.Trace(sympy.MatMul(sympy.Transpose(a), a))
                                          if conv.is_matrix(a) else a ** 2),
      numpy=lambda p, n: p.unary(n, "{xp}.linalg.norm({0})", "{xp}.abs({0})"))


def norm2(a: object) -> Expr:
    """The 2-norm of a vector, the Frobenius norm of a matrix."""
    return node("norm2", (as_expr(a, "argument of norm2"),))


def norm1(a: object) -> Expr:
    """The entrywise 1-norm Σ|aᵢⱼ|."""
    return sum_(apply("abs", a))


deffunction("norm1", 1, to_scalar, norm1, doc="the entrywise 1-norm Σ|aᵢⱼ|")


# ---- logsumexp and softmax ------------------------------------------------------------------------------------------
def _lse_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂ log Σ exp(xᵢ)/∂x = softmax(x)."""
    a = out.args[0]
    return mul(g, softmax(a) if a.shape[1] == ONE else apply("exp", add(a, neg(out))))


def _lse_sympy(conv: Any, e: Expr, a: Any) -> Any:
    """logsumexp(A) = log(𝟏ᵀ exp∘(A) 𝟏)."""
    if not conv.is_matrix(a):
        return a
    d = sympy.Dummy("d")
    fn = sympy.matrices.expressions.applyfunc.ElementwiseApplyFunction
    total = _sum_sympy(conv, e, fn(sympy.Lambda(d, sympy.exp(d)), a))
    return fn(sympy.Lambda(d, sympy.log(d)), total)


def _logsumexp(v: Any) -> Any:
    es = _entries(v)
    m = max(es)
    return mpmath.matrix([[m + mpmath.log(mpmath.fsum(mpmath.exp(e - m) for e in es))]])


def _logsumexp_numpy(p: Any, n: Any) -> Any:
    """log Σ exp(xᵢ) = m + log Σ exp(xᵢ − m) with m = max xᵢ (no overflow)."""
    (a,) = n.args
    if a.kind == "s":
        return p.code(a)
    x = p.name(a)
    m = p.aux(f"{x}.max()")
    return p.fmt(f"{m} + {{xp}}.log({{xp}}.exp({x} - {m}).sum())"), p.ADD


defop("logsumexp", to_scalar, vjp=_lse_vjp, arity=1, text="logsumexp({0})",
      latex=r"\operatorname{{logsumexp}}\left({0}\right)", lang="logsumexp", sympy=_lse_sympy, mpmath=_logsumexp,
      numpy=_logsumexp_numpy)


def logsumexp(a: object) -> Expr:
    """log Σᵢⱼ exp(aᵢⱼ)."""
    return node("logsumexp", (as_expr(a, "argument of logsumexp"),))


def _softmax_shape(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    if not d.equal(shapes[0][1], d.one):
        d.fail("softmax needs a vector, got {0}")
    return shapes[0]


def _softmax_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """s = softmax(x): x̄ = s ⊙ (ḡ − sᵀḡ) (the Jacobian is diag(s) − s sᵀ)."""
    return mul(out, add(g, neg(matmul(transpose(out), g))))


def _softmax_sympy(conv: Any, e: Expr, a: Any) -> Any:
    """softmax(a) = exp∘(a) (𝟏ᵀ exp∘(a))^{∘−1}."""
    if not conv.is_matrix(a):
        return sympy.Integer(1)
    d = sympy.Dummy("d")
    ex = sympy.matrices.expressions.applyfunc.ElementwiseApplyFunction(sympy.Lambda(d, sympy.exp(d)), a)
    return sympy.MatMul(ex, sympy.HadamardPower(_sum_sympy(conv, e, ex), -1))


def _softmax(v: Any) -> Any:
    m = max(_entries(v))
    ex = v.apply(lambda e: mpmath.exp(e - m))
    return ex / mpmath.fsum(_entries(ex))


def _softmax_numpy(p: Any, n: Any) -> Any:
    """softmax(x) = exp(x − max x) / Σ exp(x − max x)."""
    (a,) = n.args
    if a.kind == "s":
        return "1.0", p.ATOM
    x = p.name(a)
    e = p.aux(p.fmt(f"{{xp}}.exp({x} - {x}.max())"))
    return f"{e} / {e}.sum()", p.MUL


defop("softmax", _softmax_shape, vjp=_softmax_vjp, arity=1, text="softmax({0})",
      latex=r"\operatorname{{softmax}}\left({0}\right)", lang="softmax", sympy=_softmax_sympy, mpmath=_softmax,
      numpy=_softmax_numpy)


def softmax(a: object) -> Expr:
    """exp(a) / Σ exp(aᵢ), of a vector."""
    return node("softmax", (as_expr(a, "argument of softmax"),))


@rule_for("apply")
def log_of_softmax(e: Expr) -> Expr:
    """log softmax(z) = z − logsumexp(z)."""
    if e.params[0].name != "log" or e.args[0].op != "softmax":
        return e
    z = e.args[0].args[0]
    return add(z, neg(logsumexp(z)))


@rule_for("sum")
def sum_of_softmax(e: Expr) -> Expr:
    """Σᵢ softmax(z)ᵢ = 1."""
    return const(1) if e.args[0].op == "softmax" else e
