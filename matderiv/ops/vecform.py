"""The vec form of matrix-by-matrix derivatives: vec, its inverse and the commutation matrix.

vec(A) stacks the columns of an m×n matrix A into an mn×1 column (column-major, Magnus & Neudecker 1999, ch. 2);
``unvec(v, m, n)`` undoes it. The commutation matrix K_{m,n} is the mn×mn permutation with
K_{m,n} vec(A) = vec(Aᵀ) for every m×n A (Magnus & Neudecker 1979; Matrix Cookbook 10.2.2 calls it T);
K_{m,n}ᵀ = K_{m,n}⁻¹ = K_{n,m}. With them the Jacobian of a matrix function F of a matrix X is the matrix J with
vec(dF) = J vec(dX): vec(A X B) = (Bᵀ ⊗ A) vec X (C 520), vec(Xᵀ) = K vec X.
"""
from __future__ import annotations

from typing import Any

import mpmath

from ..core.dims import ONE, Shape, as_dim
from ..core.errors import ArgumentError
from ..core.expr import Expr, describe
from ..core.spec import ShapeAlgebra, deflinear, defop, node, rule_for
from .base import as_expr, eye

__all__ = ["vec", "unvec", "commutation"]
#: The names the package exports (``md.<name>``).
PUBLIC = ("vec", "unvec", "commutation")


def _no_sympy(conv: Any, e: Expr, *args: Any) -> Any:
    raise ArgumentError(f"to_sympy: SymPy has no commutation matrix or vec operator; {describe(e)} has no SymPy form")



# ---- vec and unvec ---------------------------------------------------------------------------------------------
def _vec_shape(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    (m, n), = shapes
    return (d.prod(m, n), d.one)


def _vec_vjp(g: Expr, out: Expr) -> Expr:
    """⟨g, vec A⟩ = ⟨unvec(g), A⟩: the cotangent of A is g reshaped to A's shape."""
    m, n = out.args[0].shape
    return unvec(g, m, n)


def _vec(v: Any) -> Any:
    """The columns of V stacked (column-major)."""
    return mpmath.matrix([[v[i, j]] for j in range(v.cols) for i in range(v.rows)])


def _vec_numpy(p: Any, n: Any) -> Any:
    (a,) = n.args
    if a.kind in "sc":
        return p.code(a)
    if a.kind == "r":
        return p.code(a)  # a row is a 1-D array: its vec is itself
    return f"{p.atom(a)}.ravel(order='F')", p.ATOM


deflinear("vectorize", _vec_shape, _vec_vjp, arity=1, text="vec({0})",
          latex=r"\operatorname{{vec}}\left({0}\right)", mpmath=_vec, numpy=_vec_numpy,
          sympy=_no_sympy)


def _unvec_shape(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    (r, c), = shapes
    m, n = params
    if not d.is_one(c) or not d.equal(r, d.prod(m, n)):
        d.fail(f"unvec needs a column of {d.show(m)}·{d.show(n)} entries, got {{0}}")
    return (m, n)


def _unvec_vjp(g: Expr, out: Expr) -> Expr:
    """⟨G, unvec v⟩ = ⟨vec G, v⟩."""
    return vec(g)


def _unvec(v: Any, m: Any, n: Any) -> Any:
    """The mn×1 column v as the m×n matrix whose columns it stacks."""
    out = mpmath.zeros(int(m), int(n))
    for j in range(int(n)):
        for i in range(int(m)):
            out[i, j] = v[i + j * int(m), 0]
    return out


def _unvec_numpy(p: Any, n: Any) -> Any:
    (a,) = n.args
    m, k = n.params
    if n.kind in "sc":
        return p.code(a)
    if n.kind == "r":
        return p.code(a)
    return f"{p.atom(a)}.reshape(({p.dimcode(m)}, {p.dimcode(k)}), order='F')", p.ATOM


deflinear("unvectorize", _unvec_shape, _unvec_vjp, arity=1, params=("rows", "cols"),
          text=lambda e, a: f"unvec({a}, {e.params[0]}, {e.params[1]})",
          latex=r"\operatorname{{vec}}^{{-1}}\left({0}\right)", mpmath=_unvec, numpy=_unvec_numpy,
          sympy=_no_sympy)


def vec(a: object) -> Expr:
    """vec(A): the columns of A stacked into one column (column-major); a column is its own vec and a row's is
    its transpose."""
    a = as_expr(a, "argument of vec")
    if a.shape[1] == ONE:
        return a
    if a.shape[0] == ONE:
        return a.args[0] if a.op == "transpose" else node("transpose", (a,))
    return node("vectorize", (a,))


def unvec(v: object, rows: object, cols: object) -> Expr:
    """The m×n matrix whose stacked columns are the mn×1 column v (vec⁻¹)."""
    v = as_expr(v, "argument of unvec")
    m, n = as_dim(rows), as_dim(cols)
    if (m, n) == v.shape:
        return v
    if m == ONE and n == v.shape[0] and v.shape[1] == ONE:
        return v.args[0] if v.op == "transpose" else node("transpose", (v,))
    return node("unvectorize", (v,), (m, n))


@rule_for("unvectorize")
def unvec_of_vec(e: Expr) -> Expr:
    """vec⁻¹(vec A) = A."""
    a = e.args[0]
    return a.args[0] if a.op == "vectorize" and a.args[0].shape == e.shape else e


@rule_for("vectorize")
def vec_of_unvec(e: Expr) -> Expr:
    """vec(vec⁻¹ v) = v."""
    a = e.args[0]
    return a.args[0] if a.op == "unvectorize" else e


# ---- the commutation matrix -----------------------------------------------------------------------------------
def _commutation_shape(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    m, n = params
    return (d.prod(m, n), d.prod(m, n))


def _commutation(m: Any, n: Any) -> Any:
    """K[j + i n, i + j m] = 1 for i < m, j < n: K vec(A) = vec(Aᵀ) for m×n A."""
    m, n = int(m), int(n)
    out = mpmath.zeros(m * n, m * n)
    for i in range(m):
        for j in range(n):
            out[j + i * n, i + j * m] = 1
    return out


def _commutation_numpy(p: Any, n: Any) -> Any:
    """Rows of the identity permuted: row j + i n of K is row i + j m of I, K = I[perm] with
    perm = arange(mn).reshape(n, m).ravel('F'). The lowering gives a product with K as a node with the other factor
    as argument and the side as third param: K M = M[perm] and M K = M[:, perm⁻¹] with perm⁻¹ (that of K_{n,m})
    = arange(mn).reshape(m, n).ravel('F') — a gather of mn rows or columns, not an (mn)² matmul."""
    m, k = (p.dimcode(d) for d in n.params[:2])
    if not n.args:
        return p.fmt(f"{{xp}}.eye({m} * {k})[{{xp}}.arange({m} * {k}).reshape({k}, {m}).ravel(order='F')]"), p.ATOM
    (x,), side = n.args, n.params[2]
    if side == "left":
        return p.fmt(f"{p.atom(x)}[{{xp}}.arange({m} * {k}).reshape({k}, {m}).ravel(order='F')]"), p.ATOM
    cols = "" if x.kind in "cr" else ":, "
    return p.fmt(f"{p.atom(x)}[{cols}{{xp}}.arange({m} * {k}).reshape({m}, {k}).ravel(order='F')]"), p.ATOM


defop("commutation", _commutation_shape, text=lambda e: f"K({e.params[0]}, {e.params[1]})",
      latex=lambda e: rf"K_{{{e.params[0]},{e.params[1]}}}", mpmath=_commutation, numpy=_commutation_numpy,
      sympy=_no_sympy)


def commutation(m: object, n: object) -> Expr:
    """K_{m,n}, the mn×mn commutation matrix: K_{m,n} vec(A) = vec(Aᵀ) for an m×n A."""
    mm, nn = as_dim(m), as_dim(n)
    if mm == ONE or nn == ONE:
        return eye(mm * nn)
    d = mm * nn
    return Expr("commutation", (), (mm, nn), (d, d))


@rule_for("transpose")
def transpose_of_commutation(e: Expr) -> Expr:
    """K_{m,n}ᵀ = K_{n,m} (a permutation's transpose is its inverse)."""
    a = e.args[0]
    return commutation(a.params[1], a.params[0]) if a.op == "commutation" else e


@rule_for("matmul")
def kron_times_vec(e: Expr) -> Expr:
    """(P ⊗ Q) vec V = vec(Q V Pᵀ) (C 520) and K_{m,n} vec A = vec(Aᵀ): a reshape instead of a Kronecker product
    or a permutation matrix; K_{m,n} K_{n,m} = I."""
    from .linalg import matmul, transpose
    a = list(e.args)
    for i in range(len(a) - 1):
        left, right = a[i], a[i + 1]
        if left.op == right.op == "commutation" and tuple(left.params) == tuple(right.params)[::-1]:
            rest = a[:i] + a[i + 2:]  # K_{m,n} K_{n,m} = I (K_{m,n}⁻¹ = K_{n,m})
            return eye(left.shape[0]) if not rest else rest[0] if len(rest) == 1 else matmul(*rest)
        if right.op != "vectorize":
            continue
        v = right.args[0]
        new = None
        if left.op == "kron" and v.shape == (left.args[1].shape[1], left.args[0].shape[1]):
            p, q = left.args
            new = vec(matmul(q, v, transpose(p)))
        elif left.op == "commutation" and v.shape == tuple(left.params):
            new = vec(transpose(v))
        if new is not None:
            rest = a[:i] + [new] + a[i + 2:]
            return rest[0] if len(rest) == 1 else matmul(*rest)
    return e
