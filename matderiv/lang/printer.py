"""``md.to_text(e)``: the expression in the text language, so that ``md.parse(md.to_text(e)) == e``.

Each node is printed in a form the parser turns back into exactly that node (``*`` only where one side is
1×1 or it is a matrix product, ``@`` where a matrix product has a 1×1 factor, ``-2`` as the number −2, explicit
sizes such as ``vector(1, n)`` where inference could not recover them), and a ``where`` clause declares the
symbols whose type or dimensions the defaults would get wrong. Precedence, loosest first: ``+ -``; ``* / .* ./
@``; unary ``-``; ``^ .^ '``.
"""
from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..core.errors import ArgumentError, MatderivError
from ..core.expr import ONE, OPS, Expr, as_dim
from ..core.functions import NAMED, Fn
from ..core.spec import FUNCTIONS
from ..ops import mul, symbol
from ..printing.base import ADD, ATOM, MUL, NEG, POW, Printer, fmt_number
from .syntax import default_kind, dim_text

_composites: tuple[tuple[object, ...], dict[str, str]] = ((), {})


def language_name(op: str) -> str | None:
    """The op's name in the text language: its spec's ``lang``, else the name of the composite function that
    builds exactly this op of the same arguments (``diag`` builds the op ``diag`` of a vector and ``diagpart`` of a
    square matrix); None when the language cannot write it."""
    global _composites
    if OPS[op].lang:
        return OPS[op].lang
    key = tuple(FUNCTIONS.items())
    if _composites[0] != key:
        _composites = (key, _probe_composites())
    return _composites[1].get(op)


def _probe_composites() -> dict[str, str]:
    """Which param-free op each composite function (one that is not an op's ``lang``) builds from its arguments."""
    langs = {o.lang for o in OPS.values() if o.lang}
    n, m = as_dim("n"), as_dim("m")
    samples = [symbol("a", n, 1), symbol("A", n, n), symbol("B", n, m), symbol("r", 1, n)]
    out: dict[str, str] = {}
    for f in FUNCTIONS.values():
        if f.name in langs or f.arity not in (1, 2):
            continue
        tuples = [(a,) for a in samples] if f.arity == 1 else [(a, b) for a in samples for b in samples]
        for args in tuples:
            try:
                e = f.build(*args)
            except MatderivError:
                continue
            if e.args == args and not e.params and not OPS[e.op].lang:
                out.setdefault(e.op, f.name)
    return out


def lang_number(v: Any) -> str:
    """A number as the parser reads it back exactly: the decimal of :func:`fmt_number` when it is the shortest
    form of a float (``0.5``, ``1e300``; the parser reads a decimal as a float), else the integer or ``(p/q)``."""
    s = fmt_number(v)
    if s.startswith("(") or "." not in s and "e" not in s:
        return s
    f = float(s)
    if math.isfinite(f) and Fraction(repr(f)) == v:
        return s
    if Fraction(v).denominator == 1:
        return str(Decimal(int(v)))  # (str(int) refuses more than 4300 digits)
    q = Fraction(v)
    return f"({q.numerator}/{q.denominator})" if q > 0 else f"(-{-q.numerator}/{q.denominator})"


def _is_const(e: Expr) -> bool:
    return e.op == "const"


class LanguagePrinter(Printer):
    """Prints in the text language; ``explicit`` gives every constant its sizes (``vector(1, n)``, ``eye(n)``)."""

    def __init__(self, explicit: bool = False) -> None:
        super().__init__()
        self.explicit = explicit
        self.symbols: dict[str, Expr] = {}
        self.user_functions: dict[str, Fn] = {}

    def number(self, v: Any) -> str:
        return lang_number(v)

    def _print_symbol(self, e: Expr) -> tuple[str, int]:
        self.symbols.setdefault(e.name, e)
        return e.name, ATOM

    def _print_const(self, e: Expr) -> tuple[str, int]:
        v = e.params[0]
        return lang_number(v), (NEG if v < 0 else ATOM)

    # -- constants with a shape -----------------------------------------------------------------------------------
    def _filled(self, c: int, e: Expr) -> tuple[str, int]:
        n, m = e.shape
        if self.explicit or n == ONE:
            if m == ONE:
                return f"vector({c}, {dim_text(n)})", ATOM
            return f"matrix({c}, {dim_text(n)}, {dim_text(m)})", ATOM
        return f"{'vector' if m == ONE else 'matrix'}({c})", ATOM

    def _print_dimension(self, e: Expr) -> tuple[str, int]:
        """A dimension used as a number: ``dim(n)``, ``dim(m*n)``."""
        return f"dim({dim_text(e.params[0])})", ATOM

    def _print_ones(self, e: Expr) -> tuple[str, int]:
        return self._filled(1, e)

    def _print_zeros(self, e: Expr) -> tuple[str, int]:
        return self._filled(0, e)

    def _print_eye(self, e: Expr) -> tuple[str, int]:
        return (f"eye({dim_text(e.shape[0])})" if self.explicit else "eye"), ATOM

    # -- operators -----------------------------------------------------------------------------------------------------
    def operand(self, e: Expr) -> str:
        """A right operand of a product: parenthesised unless it binds tighter than unary minus."""
        return self.wrap(e, NEG + 1)

    def _print_add(self, e: Expr) -> tuple[str, int]:
        out = self.emit(e.args[0])[0]
        for t in e.args[1:]:
            if _is_const(t) and t.params[0] < 0:
                out += f" - {lang_number(-t.params[0])}"  # x − 2 is x + (−2): a number's negative is a number
                continue
            if (t.op == "mul" and _is_const(t.args[0]) and t.args[0].params[0] == -1
                    and not (len(t.args) == 2 and _is_const(t.args[1]))):
                rest = t.args[1] if len(t.args) == 2 else mul(*t.args[1:])
                s = self.wrap(rest, MUL)
                out += f" - {self.paren(s) if s.startswith('-') else s}"
                continue
            s = self.wrap(t, ADD + 1)
            out += f" + {self.paren(s) if s.startswith('-') else s}"
        return out, ADD

    def _print_mul(self, e: Expr) -> tuple[str, int]:
        fs = e.args
        if _is_const(fs[0]) and fs[0].params[0] == -1 and not (len(fs) == 2 and _is_const(fs[1])):
            if len(fs) > 2 and not _is_const(fs[1]) and self.emit(fs[1])[1] >= POW:
                return "-" + self.emit(mul(*fs[1:]))[0], MUL  # -y .* z is (−y) ⊙ z
            rest = fs[1] if len(fs) == 2 else mul(*fs[1:])
            s = self.wrap(rest, NEG)
            return "-" + (self.paren(s) if s.startswith("-") else s), NEG
        first = fs[0]
        elementwise_next = not (fs[1].op == "power" and fs[1].params[0] == -1) and not (
            first.is_scalar or fs[1].is_scalar)
        s = self.wrap(first, MUL + 1) if first.op == "matmul" and elementwise_next else self.wrap(first, MUL)
        left_scalar = first.is_scalar
        for f in fs[1:]:
            zero = f.op == "power" and _is_const(f.args[0]) and f.args[0].params[0] == 0  # x/0 is refused
            if f.op == "power" and f.params[0] == -1 and not zero and not (
                    f is fs[1] and _is_const(first) and _is_const(f.args[0])):
                op, operand = ("/" if f.args[0].is_scalar else "./"), f.args[0]  # (number/number is a fraction)
            else:
                op, operand = ("*" if left_scalar or f.is_scalar else ".*"), f
            s += f"{op}{self.operand(operand)}" if op in ("*", "/") else f" {op} {self.operand(operand)}"
            left_scalar = left_scalar and f.is_scalar
        return s, MUL

    def _print_matmul(self, e: Expr) -> tuple[str, int]:
        fs = e.args
        first = fs[0]
        s = self.wrap(first, MUL)
        rows_one = first.shape[0] == ONE
        prev = first
        for f in fs[1:]:
            forced = (rows_one and prev.shape[1] == ONE) or f.is_scalar  # '*' would scale: write '@'
            s += f" @ {self.operand(f)}" if forced else f"*{self.operand(f)}"
            prev = f
        return s, MUL

    def _print_power(self, e: Expr) -> tuple[str, int]:
        base = e.args[0]
        op = "^" if base.is_scalar else ".^"
        return f"{self.wrap(base, POW)}{op}{lang_number(e.params[0])}", POW

    def _print_transpose(self, e: Expr) -> tuple[str, int]:
        return f"{self.wrap(e.args[0], POW)}'", POW

    def _print_apply(self, e: Expr) -> tuple[str, int]:
        fn: Fn = e.params[0]
        if NAMED.get(fn.name) != fn:
            self.user_functions.setdefault(fn.name, fn)
        return f"{fn.name}({self.emit(e.args[0])[0]})", ATOM

    def _print_function(self, e: Expr) -> tuple[str, int]:
        name = language_name(e.op)
        if name is None:
            raise ArgumentError(f"md.to_text: the op {e.op!r} has no form in the text language")
        params = list(e.params) if OPS[e.op].params else []
        while params and params[-1] is None:  # a parameter left at its default
            params.pop()
        if not all(isinstance(p, int) for p in params):
            raise ArgumentError(f"md.to_text: the parameters {e.params} of {e.op!r} cannot be written in the text "
                                "language (whole numbers only)")
        return f"{name}({', '.join([self.emit(a)[0] for a in e.args] + [str(p) for p in params])})", ATOM


# ---- declarations ---------------------------------------------------------------------------------------------------
def _kind(s: Expr) -> str:
    if s.symmetric and not s.is_scalar:
        return "symmetric"
    n, m = s.shape
    if (n, m) == (ONE, ONE):
        return "scalar"
    return "vector" if m == ONE else "matrix"


def declaration(s: Expr, dims: bool = True) -> str:
    """``x: vector(n)``, ``X: matrix(n, m)``, ``S: symmetric(n)``, ``s: scalar`` (without sizes when ``dims`` is
    false)."""
    kind = _kind(s)
    n, m = s.shape
    if not dims or kind == "scalar":
        return f"{s.name}: {kind}"
    if kind == "symmetric":
        return f"{s.name}: symmetric({dim_text(n)})"
    if kind == "vector":
        return f"{s.name}: vector({dim_text(n)})"
    return f"{s.name}: matrix({dim_text(n)}, {dim_text(m)})"


def _with_where(body: str, decls: list[str]) -> str:
    return body + (" where " + ", ".join(decls) if decls else "")


def _reparses(text: str, e: Expr, fns: dict[str, Fn]) -> bool:
    from .parse import parse
    try:
        return parse(text, **{name: fn.body for name, fn in fns.items()}) == e
    except (MatderivError, RecursionError):
        return False


def to_text(e: Expr) -> str:
    """``e`` in the text language: ``md.parse(md.to_text(e)) == e``.

    A user's elementwise function prints as ``name(...)``; parsing it back needs the function again as a keyword
    argument, ``md.parse(text, name=body)``.

    >>> import matderiv as md
    >>> to_text(md.matrix("X", 3, 3, symmetric=True) @ md.vector("x", 3))
    'X*x where X: symmetric(3), x: vector(3)'
    """
    if not isinstance(e, Expr):
        raise ArgumentError(f"md.to_text needs a matderiv expression, got {type(e).__name__} {e!r}")
    p = LanguagePrinter()
    body = p.doprint(e)
    syms = list(p.symbols.values())
    undeclared = [s for s in syms if not (_kind(s) == "scalar" and default_kind(s.name) == "scalar")]
    greek = [declaration(s) for s in syms if s not in undeclared]  # scalars by default, unless use says otherwise
    differ = [declaration(s, False) for s in syms if _kind(s) != default_kind(s.name)]
    tries = [
        _with_where(body, []),
        _with_where(body, differ),
        _with_where(body, differ + greek),
        _with_where(body, [declaration(s) for s in undeclared]),
        _with_where(body, [declaration(s) for s in undeclared] + greek),
    ]
    for i, text in enumerate(tries):
        if text not in tries[:i] and _reparses(text, e, p.user_functions):
            return text
    q = LanguagePrinter(explicit=True)
    return _with_where(q.doprint(e), [declaration(s) for s in undeclared] + greek)
