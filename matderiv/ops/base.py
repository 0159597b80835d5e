"""Leaves, numbers and broadcasting: what every other block builds on."""
from __future__ import annotations

import numbers
from fractions import Fraction
from typing import Any, Sequence

import mpmath
import sympy

from ..core.dims import ONE, Shape, as_dim, check_name, fmt_shape
from ..core.errors import ArgumentError, ShapeError
from ..core.expr import OPS, Expr, describe
from ..core.spec import ShapeAlgebra, defop, node, rebuild

__all__ = ["as_expr", "const", "dim", "symbol", "symmetric", "ones", "zeros", "eye", "ones_like", "zeros_like",
           "is_number", "node", "rebuild", "broadcast", "flat", "same", "to_scalar", "elementwise_shape", "square",
           "scalar_of_square"]
#: The names the package exports (``md.<name>``; a trailing ``_`` is dropped: ``sum_`` is ``md.sum``).
PUBLIC = ("symbol", "symmetric", "const", "dim", "eye", "ones", "zeros", "ones_like", "zeros_like")


# ---- shape rules shared by several ops ------------------------------------------------------------------------
def same(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    """The shape of the (first) argument."""
    return shapes[0]


def to_scalar(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    """1×1, from any argument."""
    return (d.one, d.one)


def square(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    """A square argument's own shape."""
    d.square(shapes[0])
    return shapes[0]


def scalar_of_square(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    """1×1, from a square argument."""
    d.square(shapes[0])
    return (d.one, d.one)


def elementwise_shape(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    """The common shape of already-broadcast operands (1×1 operands scale)."""
    for s in shapes:
        if not d.is_scalar(s):
            return s
    return (d.one, d.one)


def _leaf(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
    return params[-1]  # type: ignore[no-any-return]


# ---- leaves ----------------------------------------------------------------------------------------------------
defop("symbol", _leaf)
defop("const", lambda d, shapes, params: (d.one, d.one), transpose="symmetric")
defop("ones", _leaf, transpose="fill", text="ones", latex=r"\mathbf{{1}}")
defop("zeros", _leaf, transpose="fill", text="zeros", latex="0")
defop("eye", _leaf, transpose="symmetric", text="eye", latex="I")


def symbol(name: str, rows: object = 1, cols: object = 1, symmetric: bool = False) -> Expr:
    """A symbol; ``symmetric`` marks a square matrix equal to its transpose."""
    shape = (as_dim(rows), as_dim(cols))
    if symmetric and shape[0] != shape[1]:
        raise ShapeError(f"symmetric matrix {name!r} must be square, got {fmt_shape(shape)}")
    symmetric = bool(symmetric) and shape != (ONE, ONE)  # a 1×1 value is symmetric anyway: one symbol, not two
    return Expr("symbol", (), (check_name(name), symmetric, shape), shape)


def symmetric(name: str, n: object) -> Expr:
    """The symmetric n×n matrix symbol S = Sᵀ. ``md.grad`` with respect to it is the gradient on the symmetric
    matrices, sym(G) = (G + Gᵀ)/2 of the unconstrained G (Srinivasan & Panda 2019, arXiv:1911.06491)."""
    return symbol(name, n, n, symmetric=True)


def const(value: int | float | Fraction) -> Expr:
    """The number ``value`` as a 1×1 expression. Numbers are exact: an int or a Fraction; a float is the decimal it
    prints as (0.1 is 1/10), so that 0.1² = 0.01 and d/dx x/3 = 1/3 hold to any precision."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"a constant must be a real number, got {type(value).__name__} {value!r}")
    if isinstance(value, int):
        return Expr("const", (), (value, (ONE, ONE)), (ONE, ONE))
    if isinstance(value, numbers.Rational):
        q = Fraction(int(value.numerator), int(value.denominator))
    else:
        f = float(value)
        if f != f or f in (float("inf"), float("-inf")):
            raise ArgumentError(f"the number {value!r} is not finite")
        q = Fraction(repr(f))
    v = q.numerator if q.denominator == 1 else q
    return Expr("const", (), (v, (ONE, ONE)), (ONE, ONE))


# ---- a dimension used as a number ------------------------------------------------------------------------------
def _dim_text(d: sympy.Expr) -> str:
    """``n``; a product or sum of dimensions in parentheses, so that it binds as one number: ``(m*n)``."""
    return str(d) if d.is_Symbol or d.is_Integer else f"({d})"


def _dimension(n: Any) -> Any:
    return mpmath.matrix([[n]])


defop("dimension", lambda d, shapes, params: (d.one, d.one), transpose="symmetric",
      text=lambda e: _dim_text(e.params[0]), latex=lambda e: sympy.latex(e.params[0]),
      sympy=lambda conv, e: conv.dim(e.params[0]), mpmath=_dimension,
      numpy=lambda p, n: (p.dimcode(n.params[0]), p.ATOM))


def dim(d: object) -> Expr:
    """A dimension used as a number (1×1): ``md.dim("n")``, or ``X.shape[0]`` of a matrix in arithmetic
    (``md.norm2(X @ w - y)**2 / X.shape[0]``). It prints as n, and the generated code reads its size from an
    argument's shape."""
    size = as_dim(d)
    if size.is_Integer:
        return const(int(size))
    return Expr("dimension", (), (size,), (ONE, ONE))


def ones(n: object, m: object = 1) -> Expr:
    """The all-ones matrix (n×m); ``ones(n)`` is the ones vector 𝟏."""
    shape = (as_dim(n), as_dim(m))
    return const(1) if shape == (ONE, ONE) else Expr("ones", (), (shape,), shape)


def zeros(n: object, m: object = 1) -> Expr:
    """The zero matrix (n×m)."""
    shape = (as_dim(n), as_dim(m))
    return const(0) if shape == (ONE, ONE) else Expr("zeros", (), (shape,), shape)


def eye(n: object) -> Expr:
    """The identity matrix I (n×n)."""
    d = as_dim(n)
    return const(1) if d == ONE else Expr("eye", (), ((d, d),), (d, d))


def as_expr(v: object, what: str = "operand") -> Expr:
    """An expression from an expression or a Python number."""
    if isinstance(v, Expr):
        return v
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return const(v)
    if hasattr(v, "item") and getattr(v, "shape", None) == ():  # numpy scalar
        return const(v.item())  # type: ignore[union-attr]
    if isinstance(v, sympy.Expr) and v.free_symbols and all(s.is_integer and s.is_positive for s in v.free_symbols):
        return dim(v)  # a dimension, such as X.shape[0], used as a number
    shown = f"of shape {v.shape}" if hasattr(v, "shape") else repr(v)  # an array's repr spans lines
    raise ArgumentError(f"{what} must be a matderiv expression or a number, got {type(v).__name__} {shown}")


def ones_like(e: object) -> Expr:
    e = as_expr(e)
    return ones(*e.shape)


def zeros_like(e: object) -> Expr:
    e = as_expr(e)
    return zeros(*e.shape)


def is_number(e: Expr, value: float | None = None) -> bool:
    return e.op == "const" and (value is None or e.params[0] == value)


# ---- broadcasting (numpy's 2-D rules) ---------------------------------------------------------------------
def broadcast(xs: Sequence[Expr], op: str) -> tuple[list[Expr], Shape]:
    """Broadcast rows 1×m and columns n×1 to the common shape by multiplying with ones (1 bᵀ, x 1ᵀ).

    Scalars (1×1) stay as they are: add and mul take them directly.
    """
    matmul = OPS["matmul"].make  # by the registry: the product's block comes after this one
    shape: list[sympy.Expr] = [ONE, ONE]
    culprit: list[Expr | None] = [None, None]
    for e in xs:
        if e.is_scalar:
            continue
        for ax in (0, 1):
            d = e.shape[ax]
            if d == ONE:
                continue
            if shape[ax] == ONE:
                shape[ax], culprit[ax] = d, e
            elif shape[ax] != d:
                raise ShapeError(f"cannot broadcast {describe(culprit[ax])} and {describe(e)} in '{op}': "  # type: ignore[arg-type]
                                 f"{'rows' if ax == 0 else 'columns'} {shape[ax]} ≠ {d}")
    out: list[Expr] = []
    for e in xs:
        if not e.is_scalar and e.shape != tuple(shape):
            if e.shape[0] == ONE and shape[0] != ONE:
                e = matmul((ones(shape[0], 1), e))
            if e.shape[1] == ONE and shape[1] != ONE:
                e = matmul((e, ones(1, shape[1])))
        out.append(e)
    return out, (shape[0], shape[1])


def flat(op: str, xs: Sequence[Expr]) -> list[Expr]:
    """The operands of an associative op with nested applications of it spliced in."""
    out: list[Expr] = []
    for e in xs:
        out.extend(e.args if e.op == op else (e,))
    return out
