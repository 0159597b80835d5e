"""Matrix algebra: products, transposes, trace, determinants, inverses and solves.

A VJP rule ``vjp(g, out, i)`` returns the cotangent of argument ``i`` of the node ``out`` given the cotangent
``g`` of ``out``: the matrix ∂⟨g, out⟩/∂argᵢ. References: Petersen & Pedersen, *The Matrix Cookbook* (2012),
equation numbers (C·); M. Giles, *An extended collection of matrix derivative results for forward and reverse
mode AD* (2008), section numbers (Giles §·).
"""
from __future__ import annotations

from typing import Any, Sequence

import mpmath
import sympy

from ..core.dims import Shape
from ..core.domains import INVERTIBLE, POSITIVE_DET
from ..core.expr import Expr
from ..core.spec import ShapeAlgebra, deflinear, defop, node, rule_for
from .base import as_expr, eye, flat, is_number, scalar_of_square, square
from .elementwise import apply, mul, neg, power

__all__ = ["matmul", "transpose", "trace", "det", "logdet", "logabsdet", "inv", "solve"]
#: The names the package exports (``md.<name>``; a trailing ``_`` is dropped: ``sum_`` is ``md.sum``).
PUBLIC = ("matmul", "transpose", "trace", "det", "logdet", "logabsdet", "inv", "solve")


# ---- matmul -----------------------------------------------------------------------------------------------------
def _matmul_shape(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    for i in range(len(shapes) - 1):
        if not d.equal(shapes[i][1], shapes[i + 1][0]):
            d.fail(f"cannot multiply {{{i}}} @ {{{i + 1}}}: {d.show(shapes[i][1])} ≠ {d.show(shapes[i + 1][0])}")
    return (shapes[0][0], shapes[-1][1])


def _matmul_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂⟨G, A₁⋯A_k⟩/∂Aᵢ = (A₁⋯Aᵢ₋₁)ᵀ G (Aᵢ₊₁⋯A_k)ᵀ (Giles §2.3.2)."""
    a = out.args
    return matmul(*[transpose(e) for e in reversed(a[:i])], g, *[transpose(e) for e in reversed(a[i + 1:])])


def _matmul_jvp(tangents: Sequence[Expr | None], out: Expr) -> Expr | None:
    """Product rule: d(A B) = (dA) B + A dB, for k factors Σᵢ A₁⋯dAᵢ⋯A_k (C 37, Giles §2.2)."""
    from .elementwise import add
    a = out.args
    parts = [matmul(*a[:i], t, *a[i + 1:]) for i, t in enumerate(tangents) if t is not None]
    return add(*parts) if parts else None


def _build_matmul(args: Sequence[Expr], params: tuple[Any, ...] = ()) -> Expr:
    xs = flat("matmul", args)
    return xs[0] if len(xs) == 1 else node("matmul", xs)


def _matmul_sympy(conv: Any, e: Expr, *factors: Any) -> Any:
    if not any(conv.is_matrix(f) for f in factors):
        return sympy.Mul(*factors)
    return sympy.MatMul(*factors)


def _matmul(*xs: Any) -> Any:
    out = xs[0]
    for v in xs[1:]:
        out = out * v
    return out


defop("matmul", _matmul_shape, vjp=_matmul_vjp, jvp=_matmul_jvp, build=_build_matmul, transpose="reverses",
      sympy=_matmul_sympy, mpmath=_matmul)


def matmul(*factors: Expr) -> Expr:
    """A B ⋯, the matrix product (numpy's ``@``)."""
    return _build_matmul([as_expr(f) for f in factors])


# ---- transpose ----------------------------------------------------------------------------------------------
def _transpose_vjp(g: Expr, out: Expr) -> Expr:
    """∂⟨G, Xᵀ⟩/∂X = Gᵀ."""
    return transpose(g)


def _T(v: Any) -> Any:
    return v.T


deflinear("transpose", lambda d, shapes, params: (shapes[0][1], shapes[0][0]), _transpose_vjp, arity=1, scales=False,
          rule="Transpose rule: d(Xᵀ) = (dX)ᵀ (C 44).",
          from_sympy=(sympy.Transpose,), sympy=lambda conv, e, a: sympy.Transpose(a) if conv.is_matrix(a) else a,
          mpmath=_T)


def transpose(a: object) -> Expr:
    """Aᵀ."""
    return node("transpose", (as_expr(a),))


# ---- trace, det, logdet, inv, solve ----------------------------------------------------------------------------
def _trace_vjp(g: Expr, out: Expr) -> Expr:
    """∂ tr X/∂X = I (C 100)."""
    return mul(g, eye(out.args[0].shape[0]))


def _trace(v: Any) -> Any:
    return mpmath.matrix([[mpmath.fsum(v[i, i] for i in range(v.rows))]])


deflinear("trace", scalar_of_square, _trace_vjp, arity=1, transpose="invariant", of_scalar=lambda s: s,
          rule="Trace rule: d tr X = tr dX (C 36).",
          text="trace({0})", latex=r"\operatorname{{tr}}\left({0}\right)", lang="tr", from_sympy=(sympy.Trace,),
          sympy=lambda conv, e, a: sympy.Trace(a) if conv.is_matrix(a) else a, mpmath=_trace,
          numpy=lambda p, n: p.unary(n, "{xp}.trace({0})", "{0}"))


def trace(a: object) -> Expr:
    return node("trace", (as_expr(a, "argument of trace"),))


def _det_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂ det X/∂X = det(X) X^{−T} (C 49)."""
    return mul(g, out, transpose(inv(out.args[0])))


def _det_jvp(tangents: Sequence[Expr | None], out: Expr) -> Expr | None:
    """Jacobi's formula: d det X = det X tr(X⁻¹ dX) (C 42, Giles §2.2)."""
    (t,) = tangents
    return None if t is None else mul(out, trace(matmul(inv(out.args[0]), t)))


def _det(v: Any) -> Any:
    return mpmath.matrix([[mpmath.det(v)]])


defop("det", scalar_of_square, vjp=_det_vjp, jvp=_det_jvp, arity=1, transpose="invariant", of_scalar=lambda s: s,
      domain=INVERTIBLE, text="det({0})", latex=r"\det\left({0}\right)", lang="det", from_sympy=(sympy.Determinant,),
      sympy=lambda conv, e, a: sympy.Determinant(a) if conv.is_matrix(a) else a, mpmath=_det,
      numpy=lambda p, n: p.unary(n, "{xp}.linalg.det({0})", "{0}"))


def det(a: object) -> Expr:
    return node("det", (as_expr(a, "argument of det"),))


def _logdet_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂ log det X/∂X = X^{−T} (C 57); the same for log |det X|, for either sign of det X."""
    return mul(g, transpose(inv(out.args[0])))


def _logdet_jvp(tangents: Sequence[Expr | None], out: Expr) -> Expr | None:
    """Log-determinant rule: d log det X = tr(X⁻¹ dX) (C 43); the same for log |det X|, either sign of det X."""
    (t,) = tangents
    return None if t is None else trace(matmul(inv(out.args[0]), t))


def _logdet(v: Any) -> Any:
    """log det V where det V > 0; nan elsewhere (log det is not log |det|: see logabsdet)."""
    d = mpmath.det(v)
    return mpmath.matrix([[mpmath.log(d) if d > 0 else mpmath.nan]])


def _logdet_numpy(p: Any, n: Any) -> Any:
    """slogdet's log |det X| where the sign is positive, nan elsewhere — as the mpmath definition."""
    (a,) = n.args
    a = p.plain(a)
    if a.kind == "s":
        return p.fmt(f"{{xp}}.log({p.code(a)[0]})"), p.ATOM
    sd = p.aux(p.fmt(f"{{xp}}.linalg.slogdet({p.code(a)[0]})"))
    return p.fmt(f"({sd}[1] if {sd}[0] > 0 else {{xp}}.nan)"), p.ATOM


defop("logdet", scalar_of_square, vjp=_logdet_vjp, jvp=_logdet_jvp, arity=1, transpose="invariant", domain=POSITIVE_DET,
      of_scalar=lambda s: apply("log", s),
      text="logdet({0})", latex=r"\log\det\left({0}\right)", lang="logdet",
      sympy=lambda conv, e, a: sympy.log(sympy.Determinant(a) if conv.is_matrix(a) else a), mpmath=_logdet,
      numpy=_logdet_numpy)


def logdet(a: object) -> Expr:
    """log det A (A with a positive determinant)."""
    return node("logdet", (as_expr(a, "argument of logdet"),))


@rule_for("apply")
def log_of_det(e: Expr) -> Expr:
    """log(det X) = log det X."""
    return logdet(e.args[0].args[0]) if e.params[0].name == "log" and e.args[0].op == "det" else e


# ---- logabsdet ------------------------------------------------------------------------------------------------------
def _logabsdet(v: Any) -> Any:
    return mpmath.matrix([[mpmath.log(abs(mpmath.det(v)))]])


defop("logabsdet", scalar_of_square, vjp=_logdet_vjp, jvp=_logdet_jvp, arity=1, transpose="invariant", domain=INVERTIBLE,
      of_scalar=lambda s: apply("log", apply("abs", s)),
      text="logabsdet({0})", latex=r"\log\left|\det\left({0}\right)\right|", lang="logabsdet",
      sympy=lambda conv, e, a: sympy.log(sympy.Abs(sympy.Determinant(a) if conv.is_matrix(a) else a)),
      mpmath=_logabsdet, numpy=lambda p, n: p.unary(n, "{xp}.linalg.slogdet({0})[1]", "{xp}.log({xp}.abs({0}))"))


def logabsdet(a: object) -> Expr:
    """log |det A| for any invertible A (numpy's ``slogdet(A)[1]``)."""
    return node("logabsdet", (as_expr(a, "argument of logabsdet"),))


@rule_for("apply")
def log_of_abs_det(e: Expr) -> Expr:
    """log |det X| = logabsdet X."""
    a = e.args[0]
    if e.params[0].name == "log" and a.op == "apply" and a.params[0].name == "abs" and a.args[0].op == "det":
        return logabsdet(a.args[0].args[0])
    return e


def _inv_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """C = X⁻¹: X̄ = −Cᵀ C̄ Cᵀ (C 59, Giles §2.3.4)."""
    return neg(matmul(transpose(out), g, transpose(out)))


def _inv_jvp(tangents: Sequence[Expr | None], out: Expr) -> Expr | None:
    """Inverse rule: d(X⁻¹) = −X⁻¹ (dX) X⁻¹ (C 40, Giles §2.2)."""
    (t,) = tangents
    return None if t is None else neg(matmul(out, t, out))


def _inv(v: Any) -> Any:
    return mpmath.inverse(v)


def _inv_numpy(p: Any, n: Any) -> Any:
    """X⁻¹ where it is needed on its own (products with it become solves in the lowering); (Xᵀ)⁻¹ = (X⁻¹)ᵀ."""
    (a,) = n.args
    if a.kind == "s":
        return f"1 / {p.wrap(p.code(a), p.MUL + 1)}", p.MUL
    if a.op == "T":
        return p.fmt(f"{{xp}}.linalg.inv({p.code(a.args[0])[0]}).T"), p.ATOM
    return p.fmt(f"{{xp}}.linalg.inv({p.code(a)[0]})"), p.ATOM


defop("inv", square, vjp=_inv_vjp, jvp=_inv_jvp, arity=1, transpose="commutes", domain=INVERTIBLE, text="inv({0})",
      of_scalar=lambda s: s if is_number(s, 0) else power(s, -1),
      latex=r"{0}^{{-1}}", lang="inv", from_sympy=(sympy.Inverse,),
      sympy=lambda conv, e, a: sympy.Inverse(a) if conv.is_matrix(a) else sympy.Pow(a, -1), mpmath=_inv,
      numpy=_inv_numpy)


def inv(a: object) -> Expr:
    return node("inv", (as_expr(a, "argument of inv"),))


def _solve_shape(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    a, b = shapes
    d.square(a, 0, "solve(A, B)")
    if not d.equal(a[1], b[0]):
        d.fail("solve(A, B) needs B with as many rows as A: {0}, {1}")
    return b


def _solve_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """C = A⁻¹B: B̄ = A^{−T} C̄, Ā = −A^{−T} C̄ Cᵀ (Giles §2.3.5)."""
    b_bar = solve(transpose(out.args[0]), g)
    return b_bar if i == 1 else neg(matmul(b_bar, transpose(out)))


def _solve_jvp(tangents: Sequence[Expr | None], out: Expr) -> Expr | None:
    """Solve rule: C = A⁻¹B gives dC = A⁻¹(dB − (dA) C) (C 40 with the product rule, Giles §2.2)."""
    from .elementwise import add
    (a, _), (ta, tb) = out.args, tangents
    rhs = [t for t in (tb, None if ta is None else neg(matmul(ta, out))) if t is not None]
    return solve(a, rhs[0] if len(rhs) == 1 else add(*rhs)) if rhs else None


def _solve(a: Any, b: Any) -> Any:
    """A^-1 B, column by column."""
    out = mpmath.zeros(b.rows, b.cols)
    for j in range(b.cols):
        col = mpmath.lu_solve(a, b.column(j))
        for i in range(b.rows):
            out[i, j] = col[i]
    return out


defop("solve", _solve_shape, vjp=_solve_vjp, jvp=_solve_jvp, arity=2, domain=INVERTIBLE, scales=True, text="solve({0}, {1})",
      latex=r"{0}^{{-1}} {1}", lang="solve",
      sympy=lambda conv, e, a, b: conv.go(matmul(inv(e.args[0]), e.args[1])), mpmath=_solve)


def solve(a: object, b: object) -> Expr:
    """A⁻¹B, the solution X of A X = B."""
    return node("solve", (as_expr(a, "A of solve"), as_expr(b, "B of solve")))


# ---- identities of these ops ----------------------------------------------------------------------------------
@rule_for("trace")
def trace_of_kron(e: Expr) -> Expr:
    """tr(A ⊗ B) = tr(A) tr(B) (C 10.2.1)."""
    a = e.args[0]
    if a.op == "kron" and all(f.shape[0] == f.shape[1] for f in a.args):
        return mul(*[trace(f) for f in a.args])
    return e


@rule_for("logdet")
def logdet_of_inverse(e: Expr) -> Expr:
    """log det X⁻¹ = −log det X (det X⁻¹ = 1/det X, C 22)."""
    a = e.args[0]
    return neg(logdet(a.args[0])) if a.op == "inv" else e


@rule_for("inv")
def inv_of_inv(e: Expr) -> Expr:
    """(X⁻¹)⁻¹ = X."""
    a = e.args[0]
    return a.args[0] if a.op == "inv" else e


@rule_for("inv")
def inv_of_product(e: Expr) -> Expr:
    """(A B)⁻¹ = B⁻¹ A⁻¹ when every factor is square (C 1, 2)."""
    a = e.args[0]
    if a.op == "matmul" and all(f.shape[0] == f.shape[1] for f in a.args):
        return matmul(*[inv(f) for f in reversed(a.args)])
    return e
