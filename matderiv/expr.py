"""The expression IR: immutable, hashable nodes that know their shape.

Every value is a matrix: a vector is an n×1 column, a scalar is 1×1. A node is ``(op, args, params, shape)``
and two nodes are equal when these are equal (structural equality, as in SymPy). Operators follow numpy:
``@`` matrix product, ``*`` and ``/`` elementwise with broadcasting, ``**`` elementwise power, ``.T``.
"""
from __future__ import annotations

import keyword
import weakref
from typing import TYPE_CHECKING, Any, Iterable, TypeVar, Union

import sympy

from .errors import ArgumentError, InvalidNameError, ShapeError

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Hashable

N = TypeVar("N")
Dim = sympy.Expr
Shape = tuple[sympy.Expr, sympy.Expr]
ONE = sympy.Integer(1)


def check_name(name: object, what: str = "symbol") -> str:
    """Return ``name`` if it is a Python identifier that is not a keyword and does not start with ``_`` (names
    with a leading underscore are kept for generated code), else raise InvalidNameError."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise InvalidNameError(f"{what} name {name!r} is not a valid identifier (letters, digits, '_'; "
                               "not starting with a digit or '_', not a Python keyword)")
    return name


_DIMS: dict[str, sympy.Symbol] = {}


def dim_symbol(name: str) -> sympy.Symbol:
    """The dimension symbol ``name`` (a positive integer)."""
    if name not in _DIMS:
        _DIMS[name] = sympy.Symbol(check_name(name, "dimension"), integer=True, positive=True)
    return _DIMS[name]


def as_dim(d: object) -> Dim:
    """A dimension from an int, a name or a SymPy expression (whose symbols are re-made as positive integers)."""
    if isinstance(d, bool):
        raise ArgumentError(f"dimension {d!r} must be a positive int, a name or a SymPy symbol")
    if isinstance(d, int) or (hasattr(d, "__index__") and not isinstance(d, sympy.Basic)):
        n = int(d)  # type: ignore[call-overload]
        if n < 1:
            raise ShapeError(f"dimension {n} must be a positive integer")
        return sympy.Integer(n)
    if isinstance(d, str):
        return dim_symbol(d)
    if isinstance(d, sympy.Basic):
        e = sympy.sympify(d)
        if e.is_Integer:
            return as_dim(int(e))
        if isinstance(e, sympy.Symbol):
            return dim_symbol(e.name)
        if e.free_symbols and all(isinstance(s, sympy.Symbol) for s in e.free_symbols):
            d = e.xreplace({s: dim_symbol(s.name) for s in e.free_symbols})
            if d.is_positive is not True:
                raise ShapeError(f"dimension {d} is not positive")
            return d
    raise ArgumentError(f"dimension {d!r} must be a positive int, a name or a SymPy symbol")


class Expr:
    """A matrix expression node. Build nodes with the functions in :mod:`matderiv.ops`, not directly."""

    __slots__ = ("op", "args", "params", "shape", "_hash", "_free", "__weakref__")
    op: str
    args: tuple[Expr, ...]
    params: tuple[Hashable, ...]
    shape: Shape

    def __new__(cls, op: str, args: tuple[Expr, ...], params: tuple[Any, ...], shape: Shape) -> Expr:
        key = (op, args, params, shape, tuple(map(type, params)))  # 0.5 and the exact 1/2 stay apart
        self = _INTERNED.get(key)
        if self is not None:  # one object per structure: equality is identity, comparisons never recurse
            return self
        self = object.__new__(cls)
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "_hash", hash(key[:4]))
        free: frozenset[Expr]
        if op == "symbol":
            free = frozenset((self,))
        elif len(args) == 1:
            free = args[0]._free
        else:
            free = frozenset().union(*(a._free for a in args))
            if len(free) > max((len(a._free) for a in args), default=0):
                _check_names(free, op, args)
        object.__setattr__(self, "_free", free)
        _INTERNED[key] = self
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("matderiv expressions are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("matderiv expressions are immutable")

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        """Structural equality, which interning makes identity: one object per (op, args, params, shape)."""
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __reduce__(self) -> tuple[Any, ...]:
        return (Expr, (self.op, self.args, self.params, self.shape))

    # -- properties ---------------------------------------------------------------------------------------
    @property
    def free_symbols(self) -> frozenset[Expr]:
        """The symbols this expression depends on."""
        return self._free

    @property
    def name(self) -> str:
        """A symbol's name."""
        if self.op != "symbol":
            raise ArgumentError(f"{self} is not a symbol, it has no name")
        return str(self.params[0])

    @property
    def is_symbol(self) -> bool:
        return self.op == "symbol"

    @property
    def is_scalar(self) -> bool:
        return self.shape == (ONE, ONE)

    @property
    def is_vector(self) -> bool:
        """A column vector n×1 (n ≠ 1)."""
        return self.shape[1] == ONE and self.shape[0] != ONE

    @property
    def is_constant(self) -> bool:
        return not self._free

    @property
    def T(self) -> Expr:
        return ops.transpose(self)

    # -- numpy operators -------------------------------------------------------------------------------------
    def __matmul__(self, other: object) -> Expr:
        return ops.matmul(self, _operand(other, "@"))

    def __rmatmul__(self, other: object) -> Expr:
        return ops.matmul(_operand(other, "@"), self)

    def __add__(self, other: object) -> Expr:
        return ops.add(self, other)

    def __radd__(self, other: object) -> Expr:
        return ops.add(other, self)

    def __sub__(self, other: object) -> Expr:
        return ops.add(self, ops.neg(other))

    def __rsub__(self, other: object) -> Expr:
        return ops.add(other, ops.neg(self))

    def __neg__(self) -> Expr:
        return ops.neg(self)

    def __pos__(self) -> Expr:
        return self

    def __mul__(self, other: object) -> Expr:
        return ops.mul(self, other)

    def __rmul__(self, other: object) -> Expr:
        return ops.mul(other, self)

    def __abs__(self) -> Expr:
        return ops.apply("abs", self)

    def __rpow__(self, other: object) -> Expr:
        return ops.power(other, self)

    def __truediv__(self, other: object) -> Expr:
        return ops.divide(self, other)

    def __rtruediv__(self, other: object) -> Expr:
        return ops.divide(other, self)

    def __pow__(self, other: object) -> Expr:
        return ops.power(self, other)

    __array_ufunc__ = None  # numpy scalars defer to our reflected operators: np.float64(2) * X is an Expr

    def __bool__(self) -> bool:
        return True

    # -- printing ------------------------------------------------------------------------------------------------
    def __str__(self) -> str:
        from .printing.text import text
        return text(self)

    def __repr__(self) -> str:
        return str(self)

    def _repr_latex_(self) -> str:
        from .printing.latex import latex
        full = latex(self)
        return f"$\\displaystyle {latex(self, where=True) if len(full) > 400 else full}$"  # long: parts named


_INTERNED: weakref.WeakValueDictionary[tuple[Any, ...], Expr] = weakref.WeakValueDictionary()


def _operand(x: object, op: str) -> Expr:
    if isinstance(x, Expr):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        raise ArgumentError(f"'{op}' needs two matrix expressions, got the plain number {x!r}; "
                            "use '*' to scale by a number")
    raise ArgumentError(f"'{op}' needs matrix expressions, got {type(x).__name__} {x!r}")


def _check_names(free: frozenset[Expr], op: str, args: tuple[Expr, ...]) -> None:
    seen: dict[str, Expr] = {}
    for s in free:
        other = seen.setdefault(s.name, s)
        if other is not s:
            a, b = sorted((s, other), key=lambda e: str(e.shape))
            raise ShapeError(f"symbol {s.name!r} is used with two shapes in one expression: "
                             f"{fmt_shape(a.shape)} and {fmt_shape(b.shape)}"
                             + ("" if a.params[1:] == b.params[1:] or a.shape != b.shape
                                else " (one of them symmetric)"))


def fmt_shape(shape: Shape) -> str:
    return f"{shape[0]}×{shape[1]}"


def describe(e: Expr) -> str:
    """``'X' (n×m)`` — how error messages name an operand (a long one cut in the middle)."""
    t = str(e)
    return f"'{t if len(t) <= 120 else t[:60] + ' … ' + t[-55:]}' ({fmt_shape(e.shape)})"


ExprLike = Union[Expr, int, float]


def iter_nodes(roots: Iterable[N]) -> list[N]:
    """All distinct nodes below ``roots`` (anything hashable with ``.args``), children before parents."""
    order: list[N] = []
    seen: set[N] = set()
    for root in roots:
        stack: list[tuple[N, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args) if a not in seen)
    return order


from . import ops  # noqa: E402  (operators above call into ops; ops imports Expr from here)
