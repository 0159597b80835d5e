"""The Cholesky factor and its helper Φ, one block: S = L Lᵀ with L lower triangular.

``cholesky(S)`` is read as chol((S + Sᵀ)/2), so that its VJP is symmetric (PyTorch made this choice,
pytorch#18825). The VJP is Murray's (I. Murray, *Differentiation of the Cholesky decomposition*, 2016,
arXiv:1602.07527, eq. 10): with L̄ the cotangent of L and Φ(A) the lower triangle of A with half its diagonal,

    S̄ = L⁻ᵀ sym(Φ(Lᵀ L̄)) L⁻¹,   sym(A) = (A + Aᵀ)/2,

written in matderiv's own ops, so derivatives of derivatives work.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Sequence

import mpmath

from ..core.domains import SPD
from ..core.expr import Expr
from ..core.spec import deflinear, defop, node
from .base import as_expr, square
from .elementwise import add, apply, mul
from .linalg import inv, matmul, transpose

__all__ = ["cholesky", "phi"]
#: The names the package exports (``md.<name>``).
PUBLIC = ("cholesky",)


# ---- Φ: the lower triangle with half the diagonal ---------------------------------------------------------------
def _phi_vjp(g: Expr, out: Expr) -> Expr:
    """Φ is a mask applied entrywise, so it is its own adjoint: ⟨G, Φ(A)⟩ = ⟨Φ(G), A⟩."""
    return phi(g)


def _phi(v: Any) -> Any:
    out = mpmath.zeros(v.rows, v.cols)
    for i in range(v.rows):
        for j in range(min(i + 1, v.cols)):
            out[i, j] = v[i, j] / 2 if i == j else v[i, j]
    return out


def _phi_numpy(p: Any, n: Any) -> Any:
    (a,) = n.args
    if a.kind == "s":
        return f"0.5 * {p.atom(a)}", p.MUL
    x = p.name(a)
    return p.fmt(f"{{xp}}.tril({x}) - 0.5 * {{xp}}.diag({{xp}}.diagonal({x}))"), p.ADD


deflinear("phi", square, _phi_vjp, arity=1, rule="Φ rule: d Φ(A) = Φ(dA) (a mask: linear).", of_scalar=lambda s: mul(Fraction(1, 2), s), text="phi({0})",
          latex=r"\Phi\left({0}\right)", lang="tril_half", mpmath=_phi, numpy=_phi_numpy)


def phi(a: object) -> Expr:
    """Φ(A): the lower triangle of A with half its diagonal (Murray 2016)."""
    return node("phi", (as_expr(a, "argument of phi"),))


# ---- the Cholesky factor ------------------------------------------------------------------------------------------
def _cholesky_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """L = chol(sym S): S̄ = L⁻ᵀ sym(Φ(Lᵀ L̄)) L⁻¹ (Murray 2016, eq. 10; symmetric, as in PyTorch)."""
    p = phi(matmul(transpose(out), g))
    return matmul(transpose(inv(out)), mul(Fraction(1, 2), add(p, transpose(p))), inv(out))


def _cholesky_jvp(tangents: Sequence[Expr | None], out: Expr) -> Expr | None:
    """Cholesky rule: L = chol(sym S) gives dL = L Φ(L⁻¹ sym(dS) L⁻ᵀ) (Murray 2016, arXiv:1602.07527)."""
    (t,) = tangents
    if t is None:
        return None
    sym = mul(Fraction(1, 2), add(t, transpose(t)))
    return matmul(out, phi(matmul(inv(out), sym, transpose(inv(out)))))


def _cholesky(v: Any) -> Any:
    return mpmath.cholesky((v + v.T) / 2)


def _cholesky_numpy(p: Any, n: Any) -> Any:
    (a,) = n.args
    if a.kind == "s":
        return p.fmt(f"{{xp}}.sqrt({p.code(a)[0]})"), p.ATOM
    x = p.name(a)
    return p.fmt(f"{{xp}}.linalg.cholesky(({x} + {x}.T) / 2)"), p.ATOM


defop("cholesky", square, vjp=_cholesky_vjp, jvp=_cholesky_jvp, arity=1, domain=SPD, of_scalar=lambda s: apply("sqrt", s),
      text="cholesky({0})", latex=r"\operatorname{{chol}}\left({0}\right)", lang="chol", mpmath=_cholesky,
      numpy=_cholesky_numpy)


def cholesky(s: object) -> Expr:
    """The lower Cholesky factor L of a symmetric positive definite S (L Lᵀ = S), read as chol((S + Sᵀ)/2)."""
    return node("cholesky", (as_expr(s, "argument of cholesky"),))
