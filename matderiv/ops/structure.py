"""Structure: diagonal matrices and diagonals, the Kronecker product and its two contractions."""
from __future__ import annotations

from typing import Any

import mpmath
import sympy

from ..core.dims import ONE, Shape
from ..core.errors import ShapeError
from ..core.expr import Expr, describe
from ..core.spec import ShapeAlgebra, defbilinear, deffunction, deflinear, node, rebuild, rule_for
from .base import ones
from .elementwise import add, mul
from .linalg import matmul, transpose

__all__ = ["diag", "diag_matrix", "diagpart", "kron", "blockdot", "blocksum"]
#: The names the package exports (``md.<name>``; a trailing ``_`` is dropped: ``sum_`` is ``md.sum``).
PUBLIC = ("diag", "kron")


# ---- diag --------------------------------------------------------------------------------------------------------
def _diag_shape(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    (v,) = shapes
    if not d.equal(v[1], d.one):
        d.fail("diag needs a vector or a square matrix, got {0}")
    return (v[0], v[0])


def _diag_vjp(g: Expr, out: Expr) -> Expr:
    """⟨G, diag(v)⟩ = ⟨diag(G), v⟩: the cotangent of v is G's diagonal."""
    return diagpart(g)


def _diag(v: Any) -> Any:
    out = mpmath.zeros(v.rows, v.rows)
    for i in range(v.rows):
        out[i, i] = v[i, 0]
    return out


deflinear("diag", _diag_shape, _diag_vjp, arity=1, transpose="symmetric", scales=False, text="diag({0})",
          rule="Diagonal rule: d diag(v) = diag(dv) (linear).",
          latex=r"\operatorname{{diag}}\left({0}\right)",
          sympy=lambda conv, e, a: sympy.DiagMatrix(a) if conv.is_matrix(a) else a, mpmath=_diag,
          numpy="{xp}.diag({0})")


def _diagpart_shape(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    d.square(shapes[0], 0, "diag")
    return (shapes[0][0], d.one)


def _diagpart_vjp(g: Expr, out: Expr) -> Expr:
    """⟨g, diag(X)⟩ = ⟨diag(g), X⟩: the cotangent of X is the diagonal matrix of g."""
    return diag_matrix(g)


def _diagpart(v: Any) -> Any:
    return mpmath.matrix([[v[i, i]] for i in range(v.rows)])


deflinear("diagpart", _diagpart_shape, _diagpart_vjp, arity=1, text="diag({0})",
          rule="Diagonal rule: d diag(X) = diag(dX) (linear).",
          latex=r"\operatorname{{diag}}\left({0}\right)", from_sympy=(sympy.DiagonalOf,),
          sympy=lambda conv, e, a: sympy.DiagonalOf(a) if conv.is_matrix(a) else a, mpmath=_diagpart,
          numpy=lambda p, n: (p.fmt(f"{{xp}}.diagonal({p.code(p.plain(n.args[0]))[0]})"), p.ATOM))


def diag_matrix(v: Expr) -> Expr:
    return node("diag", (v,))


def diagpart(a: Expr) -> Expr:
    return node("diagpart", (a,))


def diag(a: object) -> Expr:
    """diag(v): the diagonal matrix of a vector; diag(A): the vector of a square matrix's diagonal."""
    from .base import as_expr
    a = as_expr(a, "argument of diag")
    if a.is_scalar:
        return a
    if a.shape[1] == ONE:
        return diag_matrix(a)
    if a.shape[0] == a.shape[1]:
        return diagpart(a)
    raise ShapeError(f"diag needs a vector or a square matrix, got {describe(a)}")


def _diag_dispatch(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    """diag of a scalar is itself, of a vector the diagonal matrix, of a square matrix its diagonal."""
    (s,) = shapes
    if d.is_scalar(s):
        return s
    if d.is_one(s[1]):
        return (s[0], s[0])
    d.square(s, 0, "diag (of a matrix: its diagonal; of a vector: the diagonal matrix)")
    return (s[0], d.one)


deffunction("diag", 1, _diag_dispatch, diag, doc="diag(v): the diagonal matrix; diag(A): the diagonal")


# ---- Kronecker product and its two contractions ------------------------------------------------------------------
def _kron_shape(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    (ar, ac), (br, bc) = shapes
    return (d.prod(ar, br), d.prod(ac, bc))


def _blocks_shape(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    g, k = shapes
    r, c = d.quot(g[0], k[0]), d.quot(g[1], k[1])
    if r is None or c is None:
        d.fail("{op}: {0} is not made of blocks of {1}'s shape")
    return (r, c)


def _kron_left(g: Expr, out: Expr) -> Expr:
    """⟨G, A ⊗ B⟩ = ⟨blockdot(G, B), A⟩ over the blocks Gᵢⱼ of G of B's shape;"""
    return blockdot(g, out.args[1])


def _kron_right(g: Expr, out: Expr) -> Expr:
    """⟨G, A ⊗ B⟩ = ⟨blocksum(G, A), B⟩."""
    return blocksum(g, out.args[0])


def _kron_sympy(conv: Any, e: Expr, a: Any, b: Any) -> Any:
    if conv.is_matrix(a) and conv.is_matrix(b):
        return sympy.KroneckerProduct(a, b)
    return sympy.MatMul(a, b) if conv.is_matrix(a) or conv.is_matrix(b) else sympy.Mul(a, b)


def _kron(a: Any, b: Any) -> Any:
    out = mpmath.zeros(a.rows * b.rows, a.cols * b.cols)
    for i in range(a.rows):
        for j in range(a.cols):
            for k in range(b.rows):
                for l in range(b.cols):
                    out[i * b.rows + k, j * b.cols + l] = a[i, j] * b[k, l]
    return out


def _kron_numpy(p: Any, n: Any) -> Any:
    a, b = n.args
    return p.from2d(p.fmt(f"{{xp}}.kron({p.as2d(p.atom(a), a.kind)}, {p.as2d(p.atom(b), b.kind)})"), n.kind)


defbilinear("kron", _kron_shape, _kron_left, _kron_right, transpose="commutes", text="kron({0}, {1})",
            rule="Kronecker product rule: d(A ⊗ B) = dA ⊗ B + A ⊗ dB (C 39).",
            latex=r"{0} \otimes {1}", lang="kron", sympy=_kron_sympy, mpmath=_kron, numpy=_kron_numpy)


def kron(a: object, b: object) -> Expr:
    """A ⊗ B, the Kronecker product."""
    from .base import as_expr
    return node("kron", (as_expr(a, "A of kron"), as_expr(b, "B of kron")))


def _blockdot_left(h: Expr, out: Expr) -> Expr:
    """blockdot(G, B)ᵢⱼ = ⟨Gᵢⱼ, B⟩ is bilinear: ⟨H, blockdot(G, B)⟩ = ⟨G, H ⊗ B⟩"""
    return kron(h, out.args[1])


def _blockdot_right(h: Expr, out: Expr) -> Expr:
    """= ⟨blocksum(G, H), B⟩."""
    return blocksum(out.args[0], h)


def _blockdot(g: Any, b: Any) -> Any:
    """out[i, j] = <block (i, j) of G, B>, blocks of B's shape (the VJP of A (x) B in A)."""
    r, c = g.rows // b.rows, g.cols // b.cols
    out = mpmath.zeros(r, c)
    for i in range(r):
        for j in range(c):
            out[i, j] = mpmath.fsum(g[i * b.rows + k, j * b.cols + l] * b[k, l]
                                    for k in range(b.rows) for l in range(b.cols))
    return out


def _blockdot_numpy(p: Any, n: Any) -> Any:
    g, b = n.args
    g2, b2 = p.as2d(p.name(g), g.kind), p.as2d(p.name(b), b.kind)
    return p.from2d(p.fmt(f"{{xp}}.einsum('ipjq,pq->ij', {g2}.reshape(-1, {b2}.shape[0], {g2}.shape[1] // "
                          f"{b2}.shape[1], {b2}.shape[1]), {b2})"), n.kind)


defbilinear("blockdot", _blocks_shape, _blockdot_left, _blockdot_right, text="blockdot({0}, {1})",
            latex=r"\operatorname{{blockdot}}\left({0}, {1}\right)", lang="blockdot", mpmath=_blockdot,
            numpy=_blockdot_numpy)


def _blocksum_left(h: Expr, out: Expr) -> Expr:
    """blocksum(G, A) = Σᵢⱼ Aᵢⱼ Gᵢⱼ is bilinear: ⟨H, blocksum(G, A)⟩ = ⟨G, A ⊗ H⟩"""
    return kron(out.args[1], h)


def _blocksum_right(h: Expr, out: Expr) -> Expr:
    """= ⟨blockdot(G, H), A⟩."""
    return blockdot(out.args[0], h)


def _blocksum(g: Any, a: Any) -> Any:
    """sum over (i, j) of A[i, j] * block (i, j) of G (the VJP of A (x) B in B)."""
    r, c = g.rows // a.rows, g.cols // a.cols
    out = mpmath.zeros(r, c)
    for k in range(r):
        for l in range(c):
            out[k, l] = mpmath.fsum(a[i, j] * g[i * r + k, j * c + l]
                                    for i in range(a.rows) for j in range(a.cols))
    return out


def _blocksum_numpy(p: Any, n: Any) -> Any:
    g, a = n.args
    g2, a2 = p.as2d(p.name(g), g.kind), p.as2d(p.name(a), a.kind)
    return p.from2d(p.fmt(f"{{xp}}.einsum('ipjq,ij->pq', {g2}.reshape({a2}.shape[0], -1, {a2}.shape[1], "
                          f"{g2}.shape[1] // {a2}.shape[1]), {a2})"), n.kind)


defbilinear("blocksum", _blocks_shape, _blocksum_left, _blocksum_right, text="blocksum({0}, {1})",
            latex=r"\operatorname{{blocksum}}\left({0}, {1}\right)", lang="blocksum", mpmath=_blocksum,
            numpy=_blocksum_numpy)


def blockdot(g: Expr, b: Expr) -> Expr:
    return node("blockdot", (g, b))


def blocksum(g: Expr, a: Expr) -> Expr:
    return node("blocksum", (g, a))


# ---- identities of these ops ----------------------------------------------------------------------------------
@rule_for("diagpart")
def diag_of_sum(e: Expr) -> Expr:
    """diag(A + B) = diag A + diag B (diag is linear)."""
    a = e.args[0]
    return add(*[rebuild(e, [t]) for t in a.args]) if a.op == "add" and not any(t.is_scalar for t in a.args) else e


@rule_for("diagpart")
def diag_of_outer(e: Expr) -> Expr:
    """diag(u vᵀ) = u ⊙ v for vectors u, v; diag(𝟏𝟏ᵀ R) = Rᵀ𝟏 and diag(L 𝟏𝟏ᵀ) = L 𝟏."""
    a = e.args[0]
    if a.op != "matmul":
        return e
    if a.args[0].shape[1] == ONE:  # diag(u R) = u ⊙ Rᵀ for a column u and a row R
        return mul(a.args[0], transpose(matmul(*a.args[1:])))
    if a.args[-1].shape[0] == ONE:  # diag(L r) = L ⊙ rᵀ for a column L and a row r
        return mul(matmul(*a.args[:-1]), transpose(a.args[-1]))
    first, last = a.args[0], a.args[-1]
    if first.op == "ones":
        return matmul(transpose(matmul(*a.args[1:])), ones(first.shape[1], 1))
    if last.op == "ones":
        return matmul(*a.args[:-1], ones(last.shape[0], 1))
    return e
