"""Names and dimensions: identifiers are checked once here; a dimension is a positive-integer SymPy expression."""
from __future__ import annotations

import keyword

import sympy

from .errors import ArgumentError, InvalidNameError, ShapeError

Dim = sympy.Expr
Shape = tuple[sympy.Expr, sympy.Expr]
ONE = sympy.Integer(1)


def check_name(name: object, what: str = "symbol") -> str:
    """Return ``name`` if it is a Python identifier that does not start with ``_`` (names with a leading underscore
    are kept for generated code) and, unless it names a symbol, is not a Python keyword; else raise
    InvalidNameError. A symbol may be called ``lambda`` (MatrixCalculus.org's λ) or ``if``: generated code maps
    symbol names to identifiers of its own. Dimension and function names become Python identifiers (keyword
    arguments, ``def`` names), so they may not be keywords."""
    if (not isinstance(name, str) or not name.isidentifier() or name.startswith("_")
            or (keyword.iskeyword(name) and what != "symbol")):
        rule = "" if what == "symbol" else ", not a Python keyword"
        raise InvalidNameError(f"{what} name {name!r} is not a valid identifier (letters, digits, '_'; "
                               f"not starting with a digit or '_'{rule})")
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


def fmt_shape(shape: Shape) -> str:
    return f"{shape[0]}×{shape[1]}"
