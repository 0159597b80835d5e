"""What every code backend shares (the array backends of :mod:`.numpy`, and :mod:`.mpmath` for the certificate):

* :func:`outputs_of` and :func:`resolve_args` turn what the user passed into expressions and parameter symbols;
* :class:`Names` hands out identifiers that cannot clash (user symbols keep their names where possible), and
  :func:`reserved` is what a backend's generated module binds besides them;
* :func:`number_code` and :func:`mpmath_number` write numbers (exact fractions stay exact where they can);
* :class:`Canonical` makes a value and its transpose one value, so that a forward pass the simplifier printed
  once as ``X @ W.T + ones(N) @ b.T`` and once as ``W @ X.T + b @ ones(N).T`` is computed once;
* :func:`use_counts` counts the uses of each node of a DAG (common subexpressions are the nodes used twice);
* :func:`dim_bindings` says which argument's shape gives each dimension symbol.

(:mod:`.args` plans a function's parameters and dimensions from these.) Generated code is built only from
identifiers that passed :func:`matderiv.core.dims.check_name`, names made here, numbers and matderiv's own
source; it is compiled with ``exec`` in a fresh namespace (never user text).
"""
from __future__ import annotations

import builtins
import keyword
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Hashable, Iterable, Sequence

import sympy

from ..core.errors import ArgumentError, InvalidNameError, ShapeError
from ..core.expr import ONE, OPS, Expr, check_name, describe, fmt_shape, iter_nodes
from ..ops import as_expr
from ..printing.base import fmt_number

_PYTHON: frozenset[str] = frozenset(dir(builtins)) | frozenset(keyword.kwlist)


def reserved(*module_names: str) -> frozenset[str]:
    """The identifiers a parameter must not take in a generated module that binds ``module_names`` at its top:
    those, Python's builtins and keywords."""
    return frozenset(module_names) | _PYTHON


# Names a generated numpy function may use besides its own: the modules it may import and Python's builtins.
RESERVED: frozenset[str] = reserved("np", "numpy", "scipy", "math")
# The global names the numpy code does use; the function itself must not be called one of these.
GLOBALS_USED: frozenset[str] = frozenset({"np", "numpy", "scipy", "math", "float", "int", "ValueError"})


# ---- numbers ----------------------------------------------------------------------------------------------------
def number_code(v: Any) -> str:
    """A number as float64 source: ``2``, ``0.5``, ``(1/3)`` (see :func:`matderiv.printing.base.fmt_number`)."""
    return fmt_number(v)


def mpmath_number(v: Any) -> str:
    """A number as the argument of ``mpmath.mpf``/``_c``: ints and fractions exactly (``mpmath.mpf(1) / 3``),
    floats by their shortest decimal (``'0.1'``, read by mpmath at the working precision)."""
    if isinstance(v, Fraction):
        return f"mpmath.mpf({v.numerator}) / {v.denominator}"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ArgumentError(f"a constant must be a number, got {v!r}")
    return str(v) if isinstance(v, int) else repr(repr(float(v)))


# ---- what the user passed -------------------------------------------------------------------------------------
def outputs_of(exprs: object) -> tuple[list[Expr], bool]:
    """The expressions to evaluate, and whether the function returns a tuple (a list/tuple was given)."""
    if isinstance(exprs, (list, tuple)):
        if not exprs:
            raise ArgumentError("no expressions given: pass an expression or a non-empty list of expressions")
        return [as_expr(e, f"expression {i}") for i, e in enumerate(exprs)], True
    return [as_expr(exprs, "the expression")], False


def free_symbols_by_name(outputs: Sequence[Expr]) -> dict[str, Expr]:
    """The symbols of all ``outputs`` by name (one name with two shapes raises ShapeError)."""
    found: dict[str, Expr] = {}
    for e in outputs:
        for s in sorted(e.free_symbols, key=lambda s: s.name):
            other = found.setdefault(s.name, s)
            if other != s:
                raise ShapeError(f"symbol {s.name!r} is used with two shapes: {fmt_shape(other.shape)} and "
                                 f"{fmt_shape(s.shape)}" + ("" if other.shape != s.shape else
                                                            " (one of them symmetric)"))
    return found


def resolve_args(outputs: Sequence[Expr], args: object) -> list[Expr]:
    """The parameter symbols, from symbols or names; every symbol of ``outputs`` must be among them."""
    if isinstance(args, (Expr, str)):
        args = [args]
    if not isinstance(args, (list, tuple)):
        raise ArgumentError(f"args must be a list of symbols or names, got {type(args).__name__} {args!r}")
    free = free_symbols_by_name(outputs)
    params: list[Expr] = []
    seen: set[str] = set()
    for a in args:
        if isinstance(a, str):
            if a not in free:
                names = ", ".join(sorted(free)) or "none"
                raise ArgumentError(f"argument {a!r} is not a symbol of the expression (its symbols: {names})")
            s = free[a]
        elif isinstance(a, Expr):
            if not a.is_symbol:
                raise ArgumentError(f"argument {describe(a)} is not a symbol")
            s = a
            if s.name in free and free[s.name] != s:
                raise ShapeError(f"argument {s.name!r} ({fmt_shape(s.shape)}) has another shape in the "
                                 f"expression ({fmt_shape(free[s.name].shape)})")
        else:
            raise ArgumentError(f"args must be symbols or their names, got {type(a).__name__} {a!r}")
        if s.name in seen:
            raise ArgumentError(f"argument {s.name!r} is given twice")
        seen.add(s.name)
        params.append(s)
    missing = sorted(set(free) - seen)
    if missing:
        raise ArgumentError(f"the expression uses {', '.join(map(repr, missing))}, which "
                            f"{'is' if len(missing) == 1 else 'are'} not among the arguments "
                            f"[{', '.join(p.name for p in params)}]")
    return params


# ---- identifiers -----------------------------------------------------------------------------------------------
class Names:
    """Identifiers of one generated function: each is handed out once and none is reserved."""

    def __init__(self, reserved: Iterable[str] = RESERVED) -> None:
        self.taken: set[str] = set(reserved)
        self._next = 0

    def claim(self, want: str) -> str:
        """``want`` if free, else ``want_1``, ``want_2``, ... (in NFKC form: Python reads ``ｎｐ`` as ``np``)."""
        want = unicodedata.normalize("NFKC", want)
        name, i = want, 0
        while name in self.taken:
            i += 1
            name = f"{want}_{i}"
        self.taken.add(name)
        return name

    def temp(self, prefix: str = "t") -> str:
        """A fresh temporary ``t0``, ``t1``, ... (skipping taken names)."""
        while True:
            name = f"{prefix}{self._next}"
            self._next += 1
            if name not in self.taken:
                self.taken.add(name)
                return name


def function_name(name: object, used: frozenset[str] = GLOBALS_USED) -> str:
    """A valid name for the generated function (an identifier that hides none of the global names ``used`` by
    the generated code)."""
    check_name(name, "function")
    assert isinstance(name, str)
    if unicodedata.normalize("NFKC", name) in used:
        raise InvalidNameError(f"function name {name!r} would hide a name the generated code uses; choose another")
    return name


def parameter_names(params: Sequence[Expr], names: Names) -> dict[Expr, str]:
    """Each parameter's identifier in the generated code: its own name unless that is reserved."""
    out: dict[Expr, str] = {}
    for p in params:  # names that are free first, so that renamed ones cannot take them
        if unicodedata.normalize("NFKC", p.name) not in names.taken:
            out[p] = names.claim(p.name)
    for p in params:
        if p not in out:
            out[p] = names.claim(p.name)
    return out


# ---- dimensions ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DimUse:
    """Axis ``axis`` of parameter ``param`` has size ``dim`` (axis 0 is a vector's length)."""

    param: Expr
    axis: int
    dim: sympy.Expr
    what: str  # "rows", "columns" or "length"


def dim_uses(param: Expr) -> list[DimUse]:
    """The sizes the shape of ``param`` fixes, on the axes of its natural array (vectors are 1-D)."""
    r, c = param.shape
    if r == ONE and c == ONE:
        return []
    if c == ONE:
        return [DimUse(param, 0, r, "length")]
    if r == ONE:
        return [DimUse(param, 0, c, "length")]
    return [DimUse(param, 0, r, "rows"), DimUse(param, 1, c, "columns")]


def dim_bindings(params: Sequence[Expr]) -> tuple[dict[sympy.Symbol, DimUse], list[DimUse]]:
    """``(binding, checks)``: the first use of each dimension symbol binds it; every other use is a check."""
    binding: dict[sympy.Symbol, DimUse] = {}
    checks: list[DimUse] = []
    for p in params:
        for u in dim_uses(p):
            if isinstance(u.dim, sympy.Symbol) and u.dim not in binding:
                binding[u.dim] = u
            else:
                checks.append(u)
    return binding, checks


# ---- transposes -----------------------------------------------------------------------------------------------------
def _transposed(e: Expr, args: tuple[Expr, ...], params: tuple[Any, ...] | None = None) -> Expr:
    return Expr(e.op, args, e.params if params is None else params, (e.shape[1], e.shape[0]))


class Canonical:
    """The IR with transposes at the leaves and one representative for each pair {V, Vᵀ}.

    ``canon(e)`` is an expression equal to ``e`` in which a transpose wraps only a symbol or a representative
    node; the representative of a pair is the orientation met first. Sums and products are matched as
    multisets of terms, so ``X Wᵀ + 𝟏bᵀ`` and ``W Xᵀ + b𝟏ᵀ`` (= its transpose) are one value (C 4, C 5).
    """

    def __init__(self) -> None:
        self._memo: dict[Expr, Expr] = {}
        self._reg: dict[Hashable, Expr] = {}
        self._symmetric: set[Expr] = set()

    def __call__(self, e: Expr) -> Expr:
        memo = self._memo
        for n in iter_nodes([e]):
            if n in memo:
                continue
            if n.op == "transpose":
                memo[n] = self.flip(memo[n.args[0]])
            elif not n.args:
                memo[n] = n
            else:
                args = tuple(memo[a] for a in n.args)
                cand = n if all(a is b for a, b in zip(args, n.args)) else Expr(n.op, args, n.params, n.shape)
                memo[n] = self._register(cand)
        return memo[e]

    @staticmethod
    def _key(e: Expr) -> Hashable:
        if e.op in ("add", "mul"):
            counts: dict[Expr, int] = {}
            for a in e.args:
                counts[a] = counts.get(a, 0) + 1
            return (e.op, e.params, e.shape, frozenset(counts.items()))
        return (e.op, e.params, e.shape, e.args)

    def flip(self, c: Expr) -> Expr:
        """cᵀ for a canonical ``c`` (or a transpose of one)."""
        if c.op == "transpose":
            return c.args[0]
        if c.symmetric or c in self._symmetric:
            return c
        if OPS[c.op].transpose == "fill":
            return _transposed(c, (), ((c.shape[1], c.shape[0]),))
        return Expr("transpose", (c,), (), (c.shape[1], c.shape[0]))

    def _twin(self, c: Expr) -> Expr | None:
        """cᵀ with the transpose pushed one level down, as the op's spec says it passes through transposition
        (elementwise ops and inverses take the transposes of their arguments, products reverse them), or None."""
        if c.symmetric:
            return c
        how = OPS[c.op].transpose
        if how in ("elementwise", "commutes"):
            return _transposed(c, tuple(self.flip(a) for a in c.args))
        if how == "reverses":
            return _transposed(c, tuple(self.flip(a) for a in reversed(c.args)))
        return None

    def _register(self, cand: Expr) -> Expr:
        key = self._key(cand)
        found = self._reg.get(key)
        if found is not None:
            return found
        twin = self._twin(cand)
        out = cand
        if twin is not None:
            tkey = self._key(twin)
            if tkey == key:
                self._symmetric.add(cand)
            elif tkey in self._reg:
                out = self.flip(self._reg[tkey])
        self._reg[key] = out
        return out


# ---- common subexpressions ----------------------------------------------------------------------------------------
def use_counts(roots: Sequence[Any]) -> tuple[list[Any], dict[Any, int]]:
    """``(order, uses)`` for a DAG of nodes with ``.args``: children before parents, and how often each node
    is used (as an argument, counted per parent argument slot, or as a root)."""
    order = iter_nodes(roots)
    uses: dict[Any, int] = {}
    for root in roots:
        uses[root] = uses.get(root, 0) + 1
    for node in order:
        for a in node.args:
            uses[a] = uses.get(a, 0) + 1
    return order, uses


__all__ = ["outputs_of", "resolve_args", "free_symbols_by_name", "Names", "RESERVED", "reserved", "number_code",
           "mpmath_number", "GLOBALS_USED", "function_name", "parameter_names", "DimUse", "dim_uses", "dim_bindings", "Canonical", "use_counts"]
