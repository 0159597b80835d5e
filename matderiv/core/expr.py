"""The expression IR: immutable, hashable nodes that know their shape.

Every value is a matrix: a vector is an n×1 column, a scalar is 1×1. A node is ``(op, args, params, shape)``
and two nodes are equal when these are equal (structural equality, as in SymPy). The operators (``@``, ``*``,
``/``, ``**``, ``.T``) are attached by :mod:`matderiv.ops` and printing by :mod:`matderiv.printing`, from above,
as JAX attaches array methods: this layer knows no mathematics beyond shapes.
"""
from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Iterable, TypeVar, Union

from .dims import ONE, Dim, Shape, as_dim, check_name, dim_symbol, fmt_shape
from .errors import ArgumentError, ShapeError

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Hashable

N = TypeVar("N")
#: The op registry, name → :class:`matderiv.core.spec.Op`, filled by :func:`matderiv.core.spec.defop`.
OPS: dict[str, Any] = {}

__all__ = ["Expr", "OPS", "ONE", "Dim", "Shape", "as_dim", "check_name", "dim_symbol", "fmt_shape", "describe",
           "iter_nodes", "sort_key"]


class Expr:
    """A matrix expression node. Build nodes with the functions in :mod:`matderiv.ops`, not directly."""

    __slots__ = ("op", "args", "params", "shape", "_hash", "_free", "_key", "__weakref__")
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
        object.__setattr__(self, "_key", None)
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
    def symmetric(self) -> bool:
        """Whether the value equals its transpose by construction: a symbol declared symmetric, a 1×1 value, or
        an op whose values are symmetric (I, diag v)."""
        if self.is_scalar:
            return True
        if self.op == "symbol":
            return bool(self.params[1])
        return OPS[self.op].transpose == "symmetric"

    def __bool__(self) -> bool:
        return True

    def __str__(self) -> str:  # replaced by matderiv.printing.text; this plain form serves below that layer
        if self.op == "symbol":
            return str(self.params[0])
        if self.op == "const":
            return str(self.params[0])
        return f"{self.op}({', '.join(map(str, self.args))})"

    def __repr__(self) -> str:
        return str(self)

_INTERNED: weakref.WeakValueDictionary[tuple[Any, ...], Expr] = weakref.WeakValueDictionary()


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



def sort_key(e: Expr) -> tuple[str, ...]:
    """A total order on expressions from their structure alone, never their printed text: the sequence of their
    names, numbers and operators in reading order (``A @ x`` is ``("A", " @ ", "x")``, ``Aᵀ`` is ``("A", ".T")``),
    compared token by token. Canonical forms sort terms and factors by it, so a printer cannot change them."""
    stack = [e]
    while stack:  # children first, visiting only nodes without a key yet (linear in the new part of the DAG)
        n = stack[-1]
        if n._key is not None:
            stack.pop()
            continue
        todo = [a for a in n.args if a._key is None]
        if todo:
            stack.extend(todo)
            continue
        stack.pop()
        object.__setattr__(n, "_key", _key_of(n))
    return e._key  # type: ignore[no-any-return]


_INFIX = {"add": " + ", "mul": " * ", "matmul": " @ "}


def _key_of(n: Expr) -> tuple[str, ...]:
    if n.op in ("symbol", "const", "dimension"):
        return (str(n.params[0]),)
    if n.op == "transpose":
        return n.args[0]._key + (".T",)
    if n.op == "power":
        return n.args[0]._key + ("**", str(n.params[0]))
    if n.op in _INFIX:
        out: tuple[str, ...] = n.args[0]._key
        for a in n.args[1:]:
            out += (_INFIX[n.op],) + a._key
        return out
    head = n.params[0].name if n.op == "apply" else n.op
    out = (head, "(")
    for i, a in enumerate(n.args):
        out += ((", ",) if i else ()) + a._key
    if n.args and n.op != "apply":
        out += tuple(f", {p}" for p in n.params)  # softmax(X, axis=0) and softmax(X, axis=1) differ
    return out + (")",)
